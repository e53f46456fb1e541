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
    hash_password,
    needs_rehash,
    verify_password,
)
from services.auth.repository import (
    DEFAULT_PLAN,
    PlanRepository,
    RefreshTokenRepository,
    UserRepository,
)
from services.auth.schemas import TokenPair, UserAdminUpdate, UserCreate
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


class LoginThrottle:
    """Counts failed logins per account and per IP in Redis and refuses past the limit."""

    def __init__(self, redis: Redis, settings: AuthSettings) -> None:
        self.redis = redis
        self.max_failures = settings.login_max_failures
        self.window_s = settings.login_failure_window_s

    @staticmethod
    def _keys(email: str, ip: str) -> tuple[str, str]:
        account = hashlib.sha256(email.encode()).hexdigest()[:32]
        return f"auth:login-fail:acct:{account}", f"auth:login-fail:ip:{ip}"

    async def check(self, email: str, ip: str) -> None:
        account_key, ip_key = self._keys(email, ip)
        account_fails, ip_fails = await self.redis.mget(account_key, ip_key)
        blocked_key = None
        if account_fails is not None and int(account_fails) >= self.max_failures:
            blocked_key = account_key
        elif ip_fails is not None and int(ip_fails) >= self.max_failures * IP_FAILURE_FACTOR:
            blocked_key = ip_key
        if blocked_key is not None:
            retry_after = max(1, int(await self.redis.ttl(blocked_key)))
            AUTH_EVENTS.labels("login_throttled").inc()
            raise Throttled(
                "Too many failed logins; try again later",
                code="login_throttled",
                headers={"Retry-After": str(retry_after)},
            )

    async def record_failure(self, email: str, ip: str) -> None:
        # SET NX then INCR starts the window on the first failure only; unlike EXPIRE NX it
        # also works on Redis 6 (the embedded default's).
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in self._keys(email, ip):
                pipe.set(key, 0, ex=self.window_s, nx=True)
                pipe.incr(key)
            await pipe.execute()

    async def reset_account(self, email: str, ip: str) -> None:
        await self.redis.delete(self._keys(email, ip)[0])


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
            password_hash=hash_password(data.password),
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
        try:
            email = normalise_email(email)
        except InvalidInput:
            email = email.strip().lower()
        await self.throttle.check(email, ip)
        user = await self.users.get_by_email(email)
        if not verify_password(user.password_hash if user else None, password) or user is None:
            await self.throttle.record_failure(email, ip)
            AUTH_EVENTS.labels("login_failed").inc()
            raise NotAuthenticated("Wrong email or password", code="invalid_credentials")
        if not user.is_active:
            raise NotAuthenticated("This account is disabled", code="account_disabled")
        await self.throttle.reset_account(email, ip)
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.last_login_at = datetime.now(UTC)
        AUTH_EVENTS.labels("login").inc()
        return await self._issue_pair(user, family_id=uuid.uuid4())

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
