"""Words the catalogue builds products from: departments, product types, brands and sellers."""

from __future__ import annotations

from dataclasses import dataclass

from services.product.marketplaces import Marketplace


@dataclass(frozen=True, slots=True)
class Node:
    """One level of an Amazon category path."""

    name: str
    node: str
    slug: str


# Compared by identity: it keys caches, and hashing its nested tuples would cost more than a miss.
@dataclass(frozen=True, slots=True, eq=False)
class ProductType:
    """A kind of product: where it sits in the catalogue and how its listing reads."""

    path: tuple[Node, ...]  # department first, leaf last
    noun: str
    price_usd: tuple[float, float]
    title_features: tuple[str, ...]
    bullets: tuple[tuple[str, str], ...]
    details: tuple[tuple[str, tuple[str, ...]], ...]
    colors: tuple[str, ...]

    @property
    def department(self) -> str:
        return self.path[0].name


def _path(*levels: tuple[str, str, str]) -> tuple[Node, ...]:
    return tuple(Node(name, node, slug) for name, node, slug in levels)


ELECTRONICS = ("Electronics", "172282", "electronics-store")
HOME = ("Home & Kitchen", "1055398", "home-garden-kitchen-furniture-bedding")
SPORTS = ("Sports & Outdoors", "3375251", "sports-outdoors")
BEAUTY = ("Beauty & Personal Care", "3760911", "beauty")
TOYS = ("Toys & Games", "165793011", "toys")
PETS = ("Pet Supplies", "2619533011", "pet-supplies")
OFFICE = ("Office Products", "1064954", "office-products")
TOOLS = ("Tools & Home Improvement", "228013", "tools")

PRODUCT_TYPES: tuple[ProductType, ...] = (
    ProductType(
        path=_path(
            ELECTRONICS,
            ("Headphones, Earbuds & Accessories", "24046923011", "Headphones-Earbuds-Accessories"),
            ("Headphones & Earbuds", "172541", "Headphones-Accessories-Supplies"),
            ("Open-Ear Headphones", "99530371011", "Open-Ear-Headphones"),
        ),
        noun="Open-Ear Headphones",
        price_usd=(19.0, 129.0),
        title_features=(
            "Adjustable Ear Hooks",
            "Bluetooth 5.4 Wireless Earbuds",
            "IP55 Sweatproof",
            "36H Playtime",
            "Clear Calls with 4 Mics",
            "Multipoint Connection",
            "Ultra-Comfort Snug Fit",
            "Powerful Bass",
        ),
        bullets=(
            ("Ultra-Comfort Open-Ear Design", "all-day wear without anything inside your ears."),
            ("Stay Aware", "hear traffic and conversations while the music keeps playing."),
            ("Secure Fit", "four adjustable hook positions keep the {noun} in place on runs."),
            ("Powerful Sound", "16mm drivers deliver rich, resonant bass."),
            ("Clear Calls", "four microphones and AI noise reduction keep your voice crisp."),
            ("Long Battery Life", "8 hours per charge and 36 hours with the case."),
            ("Made by {brand}", "backed by an 18-month warranty and friendly support."),
        ),
        details=(
            ("Connectivity Technology", ("Wireless",)),
            ("Bluetooth Version", ("5.3", "5.4")),
            ("Battery Life", ("8 Hours", "10 Hours", "12 Hours")),
            ("Water Resistance Level", ("Water Resistant", "Waterproof")),
            ("Item Weight", ("76.4 Grams", "58 Grams", "92 Grams")),
        ),
        colors=("Black", "White", "Blue", "Sage Green"),
    ),
    ProductType(
        path=_path(
            ELECTRONICS,
            ("Computers & Accessories", "541966", "computer-pc-hardware-accessories-add-ons"),
            ("Keyboards, Mice & Accessories", "11548956011", "Keyboards-Mice-Accessories"),
            ("Computer Keyboards", "12879431", "Computer-Keyboards"),
        ),
        noun="Mechanical Keyboard",
        price_usd=(29.0, 189.0),
        title_features=(
            "Hot-Swappable Switches",
            "RGB Backlit",
            "75% Layout",
            "Wireless 2.4G/Bluetooth/USB-C",
            "Gasket Mount",
            "PBT Keycaps",
            "for Mac and Windows",
            "4000mAh Battery",
        ),
        bullets=(
            ("Hot-Swappable", "swap switches in seconds without soldering."),
            ("Three Ways to Connect", "2.4G, Bluetooth and USB-C with one {noun}."),
            ("Quiet and Smooth", "gasket mount and foam layers soften every keystroke."),
            ("Durable Keycaps", "double-shot PBT keycaps that never fade."),
            ("Compact Layout", "75% layout keeps arrows and a knob on a smaller desk."),
            ("Long Battery", "up to 200 hours with the backlight off."),
            ("From {brand}", "two-year warranty and free firmware updates."),
        ),
        details=(
            ("Connectivity Technology", ("Bluetooth, USB-C, 2.4 GHz Radio Frequency",)),
            ("Keyboard Description", ("Mechanical", "Gaming")),
            ("Number of Keys", ("82", "84", "100")),
            ("Item Weight", ("1.9 Pounds", "2.2 Pounds")),
        ),
        colors=("Black", "White", "Grey", "Retro Beige"),
    ),
    ProductType(
        path=_path(
            ELECTRONICS,
            ("Cell Phones & Accessories", "2335752011", "cell-phones-accessories"),
            ("Chargers & Power Adapters", "2407761011", "Cell-Phone-Chargers-Power-Adapters"),
            ("Wall Chargers", "2407762011", "Cell-Phone-Wall-Chargers"),
        ),
        noun="USB C Charger",
        price_usd=(9.0, 59.0),
        title_features=(
            "65W GaN Fast Charger",
            "3-Port",
            "Foldable Plug",
            "for iPhone 16, Galaxy, MacBook",
            "PD 3.0 PPS",
            "Compact Travel Adapter",
        ),
        bullets=(
            ("Fast Charging", "charge a laptop to 50% in about 30 minutes."),
            ("Three Devices at Once", "two USB-C ports and one USB-A port share the power."),
            ("Compact GaN", "40% smaller than a standard {noun}."),
            ("Safe", "temperature control and surge protection on every port."),
            ("Foldable Prongs", "slips into a pocket or laptop bag."),
            ("What You Get", "{brand} charger, welcome guide and 24-month warranty."),
        ),
        details=(
            ("Connector Type", ("USB Type C",)),
            ("Wattage", ("30 watts", "45 watts", "65 watts", "100 watts")),
            ("Total USB Ports", ("2", "3", "4")),
        ),
        colors=("Black", "White"),
    ),
    ProductType(
        path=_path(
            HOME,
            ("Kitchen & Dining", "284507", "kitchen-dining"),
            ("Coffee, Tea & Espresso", "915194", "Coffee-Tea-Espresso"),
            ("Pour-Over Coffee Makers", "13838481", "Pour-Over-Coffee-Makers"),
        ),
        noun="Pour Over Coffee Maker",
        price_usd=(14.0, 69.0),
        title_features=(
            "Borosilicate Glass Carafe",
            "Reusable Stainless Steel Filter",
            "34 oz",
            "Paperless",
            "Dishwasher Safe",
            "with Wood Sleeve",
        ),
        bullets=(
            ("Pure Flavor", "the stainless mesh filter lets the coffee oils through."),
            ("Heat Resistant Glass", "borosilicate glass handles boiling water."),
            ("Easy to Clean", "the {noun} comes apart and goes in the dishwasher."),
            ("Paperless", "save on paper filters and reduce waste."),
            ("Gift Ready", "packed in a gift box with a {brand} brewing guide."),
        ),
        details=(
            ("Capacity", ("17 Fluid Ounces", "34 Fluid Ounces", "51 Fluid Ounces")),
            ("Material", ("Borosilicate Glass",)),
            ("Special Feature", ("Reusable Filter", "Dishwasher Safe")),
        ),
        colors=("Clear", "Black", "Walnut"),
    ),
    ProductType(
        path=_path(
            HOME,
            ("Kitchen & Dining", "284507", "kitchen-dining"),
            ("Cutlery & Knife Accessories", "289851", "Cutlery-Knife-Accessories"),
            ("Chef's Knives", "289862", "Chefs-Knives"),
        ),
        noun="Chef Knife",
        price_usd=(19.0, 149.0),
        title_features=(
            "8 Inch",
            "German High Carbon Stainless Steel",
            "Ergonomic Handle",
            "Razor Sharp",
            "with Gift Box",
            "Full Tang",
        ),
        bullets=(
            ("Razor Sharp", "hand-sharpened edge at 15 degrees per side."),
            ("Premium Steel", "high-carbon German steel resists rust and stains."),
            ("Balanced", "full tang design for control through every cut."),
            ("Comfortable Grip", "ergonomic handle reduces wrist fatigue."),
            ("Lifetime Warranty", "{brand} stands behind every {noun}."),
        ),
        details=(
            ("Blade Material", ("High Carbon Stainless Steel", "Damascus Steel")),
            ("Blade Length", ("8 Inches", "7 Inches")),
            ("Handle Material", ("Pakkawood", "G10", "Stainless Steel")),
        ),
        colors=("Silver", "Black"),
    ),
    ProductType(
        path=_path(
            SPORTS,
            ("Exercise & Fitness", "3407731", "Exercise-Fitness"),
            ("Yoga", "3422251", "Yoga-Equipment"),
            ("Yoga Mats", "3422351", "Yoga-Mats"),
        ),
        noun="Yoga Mat",
        price_usd=(15.0, 89.0),
        title_features=(
            "Non Slip",
            "Extra Thick 1/3 Inch",
            "Eco Friendly TPE",
            "with Carrying Strap",
            '72" x 24"',
            "for Pilates and Floor Workouts",
        ),
        bullets=(
            ("Non-Slip Surface", "textured on both sides for grip in every pose."),
            ("Joint Friendly", "extra cushioning protects knees and wrists."),
            ("Eco-Friendly", "free of latex, PVC and phthalates."),
            ("Easy to Carry", "the strap makes the {noun} easy to take to class."),
            ("Easy Care", "wipe clean with mild soap and water."),
            ("Our Promise", "{brand} replaces any mat that wears out within a year."),
        ),
        details=(
            ("Material", ("TPE", "Natural Rubber", "NBR Foam")),
            ("Thickness", ("6 Millimeters", "8 Millimeters", "10 Millimeters")),
            ("Item Weight", ("2.2 Pounds", "3.1 Pounds")),
        ),
        colors=("Purple", "Teal", "Black", "Dusty Pink", "Navy"),
    ),
    ProductType(
        path=_path(
            SPORTS,
            ("Outdoor Recreation", "706814", "Outdoor-Recreation"),
            ("Camping & Hiking", "3400371", "Camping-Hiking"),
            ("Water Bottles", "3406641", "Sports-Water-Bottles"),
        ),
        noun="Insulated Water Bottle",
        price_usd=(12.0, 45.0),
        title_features=(
            "32 oz",
            "Stainless Steel",
            "Leak Proof Lid",
            "Keeps Cold 24 Hours",
            "BPA Free",
            "with Straw Lid",
        ),
        bullets=(
            ("Cold for 24 Hours", "double-wall vacuum insulation keeps drinks cold."),
            ("Leak Proof", "the lid seals tight in a backpack."),
            ("Durable", "18/8 stainless steel that will not rust or retain flavors."),
            ("Two Lids", "a straw lid and a spout lid come with every {noun}."),
            ("Made to Last", "{brand} offers a lifetime warranty."),
        ),
        details=(
            ("Capacity", ("24 Fluid Ounces", "32 Fluid Ounces", "40 Fluid Ounces")),
            ("Material", ("Stainless Steel",)),
            ("Special Feature", ("Leak Proof", "Insulated")),
        ),
        colors=("Black", "Ocean Blue", "Sage", "White", "Coral"),
    ),
    ProductType(
        path=_path(
            BEAUTY,
            ("Hair Care", "11057241", "Hair-Care-Products"),
            ("Styling Tools & Appliances", "11057651", "Hair-Styling-Tools-Appliances"),
            ("Hair Dryers", "3784921", "Hair-Dryers"),
        ),
        noun="Ionic Hair Dryer",
        price_usd=(24.0, 159.0),
        title_features=(
            "1875W",
            "Fast Drying",
            "Negative Ion",
            "with Diffuser and Concentrator",
            "Low Noise",
            "Lightweight",
        ),
        bullets=(
            ("Fast Drying", "a high-speed motor dries hair in half the time."),
            ("Less Frizz", "negative ions lock in moisture for smooth hair."),
            ("Three Attachments", "diffuser, concentrator and comb nozzle included."),
            ("Gentle Heat", "three heat and two speed settings plus a cool shot."),
            ("Light and Quiet", "the {noun} weighs under a pound."),
            ("Support", "{brand} customer care answers within 24 hours."),
        ),
        details=(
            ("Wattage", ("1600 watts", "1875 watts")),
            ("Item Weight", ("0.9 Pounds", "1.2 Pounds")),
            ("Voltage", ("120 Volts",)),
        ),
        colors=("Black", "Rose Gold", "White"),
    ),
    ProductType(
        path=_path(
            TOYS,
            ("Building Toys", "166092011", "Building-Toys"),
            ("Building Sets", "166093011", "Building-Sets"),
        ),
        noun="Building Blocks Set",
        price_usd=(14.0, 99.0),
        title_features=(
            "1200 Pieces",
            "STEM Toy",
            "Gift for Kids 8-12",
            "Compatible with Major Brands",
            "with Storage Box",
            "Creative Building Kit",
        ),
        bullets=(
            ("Endless Creativity", "build a castle, a spaceship or anything in between."),
            ("STEM Learning", "develops motor skills and spatial thinking."),
            ("Safe Materials", "non-toxic ABS plastic with smooth edges."),
            ("Compatible", "works with the bricks your kids already own."),
            ("Great Gift", "every {noun} from {brand} comes in a gift box."),
        ),
        details=(
            ("Number of Pieces", ("500", "1200", "2000")),
            ("Manufacturer recommended age", ("6 years and up", "8 years and up")),
            ("Material", ("Acrylonitrile Butadiene Styrene",)),
        ),
        colors=("Multicolor",),
    ),
    ProductType(
        path=_path(
            PETS,
            ("Dogs", "2975312011", "Dog-Supplies"),
            ("Toys", "2975413011", "Dog-Toys"),
            ("Chew Toys", "2975420011", "Dog-Chew-Toys"),
        ),
        noun="Dog Chew Toy",
        price_usd=(7.0, 29.0),
        title_features=(
            "for Aggressive Chewers",
            "Indestructible",
            "Natural Rubber",
            "Teeth Cleaning",
            "for Large Breed",
            "Treat Dispensing",
        ),
        bullets=(
            ("Tough", "made for power chewers from durable natural rubber."),
            ("Clean Teeth", "ridges help reduce plaque while your dog plays."),
            ("Fill with Treats", "stuff the {noun} with peanut butter for long play."),
            ("Safe", "non-toxic and free of BPA."),
            ("{brand} Guarantee", "replacement if your dog destroys it within 90 days."),
        ),
        details=(
            ("Material", ("Natural Rubber", "Nylon")),
            ("Breed Recommendation", ("Large Breeds", "All Breed Sizes")),
            ("Item Weight", ("8 Ounces", "12 Ounces")),
        ),
        colors=("Blue", "Orange", "Green"),
    ),
    ProductType(
        path=_path(
            OFFICE,
            ("Office & School Supplies", "1069242", "Office-School-Supplies"),
            ("Writing & Correction Supplies", "1069784", "Writing-Correction-Supplies"),
            ("Gel Ink Rollerball Pens", "1069824", "Gel-Ink-Rollerball-Pens"),
        ),
        noun="Gel Pens",
        price_usd=(6.0, 25.0),
        title_features=(
            "24 Pack",
            "0.5mm Fine Point",
            "Quick Dry Ink",
            "Retractable",
            "Smooth Writing",
            "Assorted Colors",
        ),
        bullets=(
            ("Smooth Writing", "premium gel ink glides without skipping."),
            ("Quick Dry", "ink dries in seconds, no smudges for left-handed writers."),
            ("Comfort Grip", "soft rubber grip for long notes."),
            ("Value Pack", "enough {noun} for school, office and home."),
            ("Satisfaction", "{brand} refunds any pen that fails."),
        ),
        details=(
            ("Point Type", ("Fine", "Extra Fine")),
            ("Number of Items", ("12", "24", "36")),
            ("Ink Color", ("Black", "Assorted")),
        ),
        colors=("Black", "Blue", "Assorted"),
    ),
    ProductType(
        path=_path(
            TOOLS,
            ("Power & Hand Tools", "328182011", "Power-Hand-Tools"),
            ("Power Tools", "551236", "Power-Tools"),
            ("Drill Drivers", "552746", "Power-Drills-Drivers"),
        ),
        noun="Cordless Drill",
        price_usd=(39.0, 199.0),
        title_features=(
            "20V Max",
            "Brushless",
            "with 2 Batteries and Charger",
            '1/2" Keyless Chuck',
            "2-Speed",
            "LED Light",
        ),
        bullets=(
            ("Powerful", "a brushless motor delivers 530 in-lbs of torque."),
            ("Two Speeds", "0-450 and 0-1,800 RPM for driving and drilling."),
            ("Compact", "the {noun} fits in tight spaces and weighs 2.8 lbs."),
            ("All Day Power", "two batteries so one is always charged."),
            ("Warranty", "{brand} covers the tool for three years."),
        ),
        details=(
            ("Power Source", ("Battery Powered",)),
            ("Voltage", ("12 Volts", "20 Volts")),
            ("Maximum Rotational Speed", ("1500 RPM", "1800 RPM", "2000 RPM")),
        ),
        colors=("Yellow", "Red", "Blue", "Black"),
    ),
)

BRANDS: tuple[str, ...] = (
    "Novaq", "Brightline", "Kestrel", "Lumora", "Vantix", "Oakhaven", "Zephra", "Corvel",
    "Tidewell", "Halden", "Quillon", "Marrow & Finch", "Solvane", "Pinecrest", "Arvo",
    "Fennix", "Glacio", "Rivanne", "Stonebrook", "Veloura", "Northwind", "Aurelle", "Trekka",
    "Ombra", "Kindra", "Bluefield", "Emberly", "Cascade Co", "Mirova", "Juniper Lane",
    "Axiom Labs", "Petalon", "Ironbark", "Lyric", "Sunhaven", "Orbit & Oak", "Vireo",
    "Calder", "Maplewood", "Zenfold",
)  # fmt: skip

MARKETPLACE_SELLERS: tuple[tuple[str, str], ...] = (
    ("ValueHub", "A1VH8Q2P5JX3KD"),
    ("Prime Deals Co", "A2PDC7TR0LMN4E"),
    ("BrightBuy Direct", "A3BBD2WQ9ZK1FM"),
    ("Harbor Goods", "A17HG4X2NCE8QP"),
    ("Everyday Outlet", "AE4O7L1K2M9P3S"),
    ("TopShelf Traders", "A2TS5D8F1G3H6J"),
    ("Northside Supply", "AN5S2U8P4L7Y1R"),
    ("Quickship Store", "AQ3S9H7I2P5T4E"),
)

# Amazon's own retail seller on each storefront (public seller ids).
AMAZON_SELLERS: dict[Marketplace, tuple[str, str]] = {
    Marketplace.US: ("Amazon.com", "ATVPDKIKX0DER"),
    Marketplace.UK: ("Amazon.co.uk", "A3P5ROKL5A1OLE"),
    Marketplace.DE: ("Amazon.de", "A3JWKAKR8XB7XF"),
    Marketplace.FR: ("Amazon.fr", "A1X6FK5RDHNB96"),
    Marketplace.IT: ("Amazon.it", "A11IL2PNWYJU7H"),
    Marketplace.ES: ("Amazon.es", "A1AT7YVPFBWXBL"),
    Marketplace.CA: ("Amazon.ca", "A3DWYIK6Y9EEQB"),
    Marketplace.JP: ("Amazon.co.jp", "AN1VRQENFRJN5"),
}

# Local price level against the US price, and how prices are written there.
PRICE_LEVEL: dict[Marketplace, float] = {
    Marketplace.US: 1.0,
    Marketplace.UK: 0.86,
    Marketplace.DE: 0.97,
    Marketplace.FR: 0.99,
    Marketplace.IT: 0.98,
    Marketplace.ES: 0.96,
    Marketplace.CA: 1.36,
    Marketplace.JP: 152.0,
}
CURRENCY_SYMBOL: dict[Marketplace, str] = {
    Marketplace.US: "$",
    Marketplace.UK: "£",
    Marketplace.DE: "€",
    Marketplace.FR: "€",
    Marketplace.IT: "€",
    Marketplace.ES: "€",
    Marketplace.CA: "$",
    Marketplace.JP: "￥",
}
COUNTRY_NAME: dict[Marketplace, str] = {
    Marketplace.US: "the United States",
    Marketplace.UK: "the United Kingdom",
    Marketplace.DE: "Germany",
    Marketplace.FR: "France",
    Marketplace.IT: "Italy",
    Marketplace.ES: "Spain",
    Marketplace.CA: "Canada",
    Marketplace.JP: "Japan",
}

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
