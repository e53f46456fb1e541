"""All SQL of the product module, one repository per aggregate."""

from services.product.repository.crawl_costs import CrawlCostRepository
from services.product.repository.crawl_runs import CrawlRunRepository, CrawlTotals
from services.product.repository.facts import FactsRepository
from services.product.repository.partitions import PartitionManager
from services.product.repository.products import ProductRepository
from services.product.repository.snapshots import PageResult, SnapshotRepository, listing_hash
from services.product.repository.trackings import SORTS, TrackingRepository

__all__ = [
    "SORTS",
    "CrawlCostRepository",
    "CrawlRunRepository",
    "CrawlTotals",
    "FactsRepository",
    "PageResult",
    "PartitionManager",
    "ProductRepository",
    "SnapshotRepository",
    "TrackingRepository",
    "listing_hash",
]
