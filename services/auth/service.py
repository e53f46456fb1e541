"""Registration, login, token rotation, logout and account administration."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from redis.asyncio import Redis
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.models import RefreshToken, Role, User
from services.auth.passwords import (
    check_password_policy,
    hash_password_off_loop,
    needs_rehash,
    verify_password_off_loop,
)
from services.auth.repository import (
    DEFAULT_PLAN,
    PlanRepository,
    RefreshTokenRepository,
    UserRepository,
)
from services.auth.schemas import (
    PlanFilter,
    PlanLimits,
    PlanRead,
    TokenPair,
    UserAdminUpdate,
    UserCreate,
)
from services.auth.tokens import (
    AccessClaims,
    hash_refresh_token,
    issue_access_token,
    new_refresh_token,
)
from services.core.errors import (
    Conflict,
    FieldError,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    Throttled,
    TokenReused,
)
from services.core.metrics import AUTH_EVENTS
from services.core.settings import AuthSettings

# An IP may front several honest users (an office NAT), so it gets a wider allowance.
IP_FAILURE_FACTOR = 4
# Growing delays for one (account, IP) pair once its free attempts are spent: 1 s, 2 s, 4 s …
# up to this cap (OWASP: throttle, do not lock out).
MAX_PAIR_DELAY_S = 900


def normalise_email(raw: str) -> str:
    """Lower-cased, IDNA-normalised email; InvalidInput when it is not an address."""
    try:
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(
            "The email address is not valid", field_errors=[FieldError("email", str(exc))]
        ) from exc
    return result.normalized.lower()


def revoked_access_key(jti: str) -> str:
    """Redis key marking an access token as revoked until it would have expired anyway."""
    return f"auth:revoked:{jti}"


def disabled_account_key(user_id: uuid.UUID) -> str:
    """Redis key holding when an account was last disabled (Unix seconds). A disabled account
    gets no new token (login and refresh read the row), so the mark only has to outlive the
    access tokens issued before it; it stays when the account is enabled again, so those
    tokens stay refused while the new ones pass."""
    return f"auth:disabled:{user_id}"


def token_check_keys(claims: AccessClaims) -> tuple[str, str]:
    """What a request with this token must look up: its revocation and its account's disable
    mark. Both are read in the same Redis round trip as the rate limit."""
    return revoked_access_key(claims.jti), disabled_account_key(claims.user_id)


def disabled_before(claims: AccessClaims, mark: bytes | str | None) -> bool:
    """Whether the account was disabled at or after this token was issued."""
    if mark is None:
        return False
    try:
        disabled_at = int(float(mark))
    except ValueError:
        return True  # unreadable: refuse, the token's owner can sign in again
    # iat has whole seconds: a token of the same second as the disable counts as before it.
    return claims.issued_at <= disabled_at


def token_refusal(revoked: bool, disabled: bool) -> NotAuthenticated | None:
    """The 401 for a revoked token or one issued before its account was disabled, else None."""
    if revoked:
        return NotAuthenticated("The access token was revoked", code="token_revoked")
    if disabled:
        return NotAuthenticated("The account is no longer active", code="account_disabled")
    return None


class LoginThrottle:
    """Failed logins, as OWASP recommends: per (account, IP) pair with growing delays, and per
    IP across all accounts. Nothing counts per account alone, so an outsider guessing a
    seller's password from elsewhere cannot lock that seller out."""

    def __init__(self, redis: Redis, settings: AuthSettings) -> None:
        self.redis = redis
        self.max_failures = settings.login_max_failures
        self.window_s = settings.login_failure_window_s

    @staticmethod
    def _keys(email: str, ip: str) -> tuple[str, str, str]:
        pair = hashlib.sha256(f"{email}\x00{ip}".encode()).hexdigest()[:32]
        return (
            f"auth:login-fail:pair:{pair}",
            f"auth:login-wait:pair:{pair}",
            f"auth:login-fail:ip:{ip}",
        )

    async def _refuse(self, key: str, reason: str) -> None:
        retry_after = max(1, int(await self.redis.ttl(key)))
        AUTH_EVENTS.labels("login_throttled").inc()
        raise Throttled(
            "Too many failed logins; try again later",
            code="login_throttled",
            headers={"Retry-After": str(retry_after)},
            extra={"scope": reason},
        )

    async def check(self, email: str, ip: str) -> None:
        _pair_key, wait_key, ip_key = self._keys(email, ip)
        waiting, ip_fails = await self.redis.mget(wait_key, ip_key)
        if waiting is not None:
            await self._refuse(wait_key, "account_and_ip")
        if ip_fails is not None and int(ip_fails) >= self.max_failures * IP_FAILURE_FACTOR:
            await self._refuse(ip_key, "ip")

    async def record_failure(self, email: str, ip: str) -> None:
        pair_key, wait_key, ip_key = self._keys(email, ip)
        # SET NX then INCR starts the window on the first failure only; unlike EXPIRE NX it
        # also works on Redis 6 (the embedded default's).
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in (pair_key, ip_key):
                pipe.set(key, 0, ex=self.window_s, nx=True)
                pipe.incr(key)
            results = await pipe.execute()
        pair_fails = int(results[1])
        if pair_fails >= self.max_failures:
            delay = min(MAX_PAIR_DELAY_S, 2 ** (pair_fails - self.max_failures))
            await self.redis.set(wait_key, 1, ex=delay)

    async def reset_account(self, email: str, ip: str) -> None:
        pair_key, wait_key, _ip_key = self._keys(email, ip)
        await self.redis.delete(pair_key, wait_key)


class AuthService:
    """The auth module's rules. Never commits: the edge owns the transaction."""

    def __init__(self, session: AsyncSession, redis: Redis, settings: AuthSettings) -> None:
        self.session = session
        self.redis = redis
        self.settings = settings
        self.users = UserRepository(session)
        self.plans = PlanRepository(session)
        self.tokens = RefreshTokenRepository(session)
        self.throttle = LoginThrottle(redis, settings)

    async def register(self, data: UserCreate, role: Role = Role.SELLER) -> User:
        """Create a seller on the default plan; plans are never chosen at sign-up."""
        email = normalise_email(data.email)
        check_password_policy(data.password, email, self.settings.password_min_length)
        if await self.users.get_by_email(email) is not None:
            raise Conflict("An account with this email already exists", code="email_taken")
        plan = await self.plans.get_by_name(DEFAULT_PLAN)
        if plan is None:
            raise RuntimeError(f"the default plan {DEFAULT_PLAN!r} is missing; run migrations")
        user = User(
            email=email,
            password_hash=await hash_password_off_loop(data.password),
            role=role.value,
            plan_id=plan.id,
        )
        try:
            async with self.session.begin_nested():
                await self.users.add(user)
        except IntegrityError as exc:  # a concurrent registration won the race
            raise Conflict("An account with this email already exists", code="email_taken") from exc
        AUTH_EVENTS.labels("registered").inc()
        return user

    async def login(self, email: str, password: str, ip: str) -> TokenPair:
        """Check the credentials (throttled per account and IP) and open a token family."""
        user = await self.authenticate(email, password, ip)
        return await self._issue_pair(user, family_id=uuid.uuid4())

    async def authenticate(self, email: str, password: str, ip: str) -> User:
        """Check the credentials under the login throttle; the API and the web pages share it."""
        try:
            email = normalise_email(email)
        except InvalidInput:
            email = email.strip().lower()
        await self.throttle.check(email, ip)
        user = await self.users.get_by_email(email)
        if (
            not await verify_password_off_loop(user.password_hash if user else None, password)
            or user is None
        ):
            await self.throttle.record_failure(email, ip)
            AUTH_EVENTS.labels("login_failed").inc()
            raise NotAuthenticated("Wrong email or password", code="invalid_credentials")
        if not user.is_active:
            raise NotAuthenticated("This account is disabled", code="account_disabled")
        await self.throttle.reset_account(email, ip)
        if needs_rehash(user.password_hash):
            user.password_hash = await hash_password_off_loop(password)
        user.last_login_at = datetime.now(UTC)
        AUTH_EVENTS.labels("login").inc()
        return user

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate a refresh token; a reused (already rotated) token revokes its whole family."""
        now = datetime.now(UTC)
        stored = await self.tokens.get_by_hash_for_update(hash_refresh_token(refresh_token))
        if stored is None or stored.revoked_at is not None or stored.expires_at <= now:
            raise NotAuthenticated("The refresh token is invalid or expired", code="invalid_token")
        if stored.used_at is not None:
            # Someone replayed a spent token: assume theft and end every session of the family.
            await self.tokens.revoke_family(stored.family_id, now)
            AUTH_EVENTS.labels("refresh_reuse").inc()
            raise TokenReused("The refresh token was already used")
        user = await self.users.get(stored.user_id)
        if user is None or not user.is_active:
            raise NotAuthenticated("The account is no longer active", code="account_disabled")
        stored.used_at = now
        return await self._issue_pair(user, family_id=stored.family_id)

    async def logout(self, claims: AccessClaims, refresh_token: str | None) -> None:
        """Revoke the access token now and the refresh-token family (or all, without one)."""
        now = datetime.now(UTC)
        ttl = int((claims.expires_at - now).total_seconds())
        if ttl > 0:
            await self.redis.set(revoked_access_key(claims.jti), "1", ex=ttl)
        if refresh_token is None:
            await self.tokens.revoke_all_for_user(claims.user_id, now)
            return
        stored = await self.tokens.get_by_hash_for_update(hash_refresh_token(refresh_token))
        if stored is not None and stored.user_id == claims.user_id:
            await self.tokens.revoke_family(stored.family_id, now)
        AUTH_EVENTS.labels("logout").inc()

    async def get_user(self, user_id: uuid.UUID) -> User:
        user = await self.users.get(user_id)
        if user is None:
            raise NotFound("No such user")
        return user

    async def find_active_user(self, user_id: uuid.UUID) -> User | None:
        """The account behind a token, or None when it is gone or disabled."""
        user = await self.users.get(user_id)
        return user if user is not None and user.is_active else None

    async def list_plans(self, filters: PlanFilter) -> tuple[list[PlanRead], int]:
        """One page of the plans with their quota and rate limit, and their total."""
        plans, total = await self.plans.page(filters.limit, filters.offset)
        return [PlanRead.model_validate(p) for p in plans], total

    async def purge_expired_tokens(self, now: datetime | None = None) -> int:
        """Delete refresh tokens past their expiry; returns how many."""
        return await self.tokens.delete_expired(now or datetime.now(UTC))

    async def update_user(self, user_id: uuid.UUID, data: UserAdminUpdate) -> User:
        """Admin: assign a plan, change a role, or disable an account."""
        user = await self.get_user(user_id)
        if data.plan is not None:
            plan = await self.plans.get_by_name(data.plan)
            if plan is None:
                names = ", ".join(p.name for p in await self.plans.list())
                raise InvalidInput(
                    f"Unknown plan {data.plan!r}",
                    field_errors=[FieldError("plan", f"must be one of: {names}")],
                )
            user.plan_id = plan.id
            user.plan = plan
        if data.role is not None:
            user.role = data.role
        if data.is_active is not None:
            user.is_active = data.is_active
            if not data.is_active:
                await self.tokens.revoke_all_for_user(user.id, datetime.now(UTC))
        await self.session.flush()
        if data.is_active is False:
            # Requests authenticate without reading the row, so the mark is what refuses the
            # account's live access tokens at once. A Redis error fails the change (503): a
            # disable that only half happened must not be reported as done. Enabling the
            # account again leaves the mark: tokens issued before the disable stay refused
            # (they may be why the account was disabled), new sign-ins pass.
            await self.redis.set(
                disabled_account_key(user.id),
                str(int(datetime.now(UTC).timestamp())),
                ex=self.settings.access_token_ttl_s,
            )
        return user

    async def _issue_pair(self, user: User, family_id: uuid.UUID) -> TokenPair:
        access, _ = issue_access_token(
            self.settings, user.id, user.role, user.plan.rate_limit_per_minute
        )
        refresh = new_refresh_token()
        await self.tokens.add(
            RefreshToken(
                user_id=user.id,
                family_id=family_id,
                token_hash=hash_refresh_token(refresh),
                expires_at=datetime.now(UTC) + timedelta(seconds=self.settings.refresh_token_ttl_s),
            )
        )
        return TokenPair(
            access_token=access, refresh_token=refresh, expires_in=self.settings.access_token_ttl_s
        )


class AccountService:
    """What other modules may ask about an account: its plan's limits. Needs no Redis."""

    def __init__(self, session: AsyncSession) -> None:
        self.users = UserRepository(session)

    async def limits(self, user_id: uuid.UUID, *, lock: bool = False) -> PlanLimits:
        """The plan's limits; ``lock`` serialises the account's quota checks until commit."""
        plan = await self.users.plan_limits(user_id, lock)
        if plan is None:
            raise NotFound("No such user")
        return PlanLimits.model_validate(plan)
