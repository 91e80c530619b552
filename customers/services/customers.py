import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from core.exceptions import ApplicationError
from core.models import User
from core.roles import is_agent
from core.tokens import TokenInvalid, token_make, token_max_age, token_read
from customers.models import Category, ContactPreference, Customer, OrganizationDomain
from customers.services.deliveries_planning import delivery_plan


def _organization_for_email(email: str) -> int | None:
    domain = email.rsplit("@", 1)[-1].lower()
    return OrganizationDomain.objects.filter(domain=domain).values_list("organization_id", flat=True).first()


@transaction.atomic
def customer_get_or_create(*, email: str, name: str = "", **fields: Any) -> tuple[Customer, bool]:
    """The customer with this e-mail (any case), created if new; never a duplicate.

    A new customer joins the organization that owns their e-mail domain unless one is given, marked
    ``organization_by_domain``: for agents (filters, SLA by plan), not a grant. Seeing the organization's
    requests takes a confirmed address and the organization's ``domain_members_see_tickets``.
    """
    email = email.strip().lower()
    if not email or "@" not in email:
        raise ApplicationError("A valid e-mail address is required.", {"email": email})
    existing = Customer.objects.filter(email=email).first()
    if existing is not None:
        return existing, False
    if "organization" not in fields and "organization_id" not in fields:
        fields["organization_id"] = _organization_for_email(email)
        fields["organization_by_domain"] = fields["organization_id"] is not None
    customer = Customer(email=email, name=name.strip() or email.split("@")[0], **fields)
    customer.full_clean(exclude=["user", "organization"], validate_unique=False, validate_constraints=False)
    external_id = customer.external_id
    if external_id and Customer.objects.filter(external_id=external_id).exists():
        raise _external_id_taken(external_id)
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError:
        # a concurrent request created it first: the unique constraint decided, we read the winner
        winner = Customer.objects.filter(email=email).first()
        if winner is None:  # the race was on the external id, not the e-mail
            raise _external_id_taken(external_id) from None
        return winner, False
    return customer, True


def _external_id_taken(external_id: str) -> ApplicationError:
    message = "Another customer has this external id."
    return ApplicationError(message, {"fields": {"external_id": [message]}, "external_id": external_id})


@transaction.atomic
def customer_link_user(*, user: User) -> Customer:
    """The help-center user's customer record: the existing one with their e-mail, linked, or a new one.

    Only for an account whose address is proven: the record carries every request ever filed with that
    address, so linking it is what grants them. A record without an organization joins the one that owns
    the e-mail domain now (marked ``organization_by_domain``).
    """
    if not user.email_verified:
        raise ApplicationError("Confirm your e-mail address first.", {"email": "unverified"})
    linked = Customer.objects.filter(user=user).first()
    if linked is not None:  # linked already (by an earlier confirmation, or by a manager): that one stays
        return linked
    customer, _ = customer_get_or_create(email=user.email, name=user.name)
    if customer.user_id is not None and customer.user_id != user.pk:
        raise ApplicationError("This e-mail address belongs to another account.")
    fields = []
    if customer.user_id is None:
        customer.user = user
        fields.append("user")
    if customer.organization_id is None:
        organization_id = _organization_for_email(customer.email)
        if organization_id is not None:
            customer.organization_id, customer.organization_by_domain = organization_id, True
            fields += ["organization", "organization_by_domain"]
    if fields:
        customer.save(update_fields=fields)
    return customer


def customer_touch(*, customer_id: int, at: dt.datetime | None = None) -> None:
    """Record that the customer was seen; only ever moves forward."""
    at = at or timezone.now()
    Customer.objects.filter(pk=customer_id).filter(Q(last_seen_at__lt=at) | Q(last_seen_at__isnull=True)).update(
        last_seen_at=at
    )


@transaction.atomic
def contact_preference_update(
    *,
    customer: Customer,
    opted_out: list[str],
    quiet_hours_start: dt.time | None,
    quiet_hours_end: dt.time | None,
) -> ContactPreference:
    unknown = set(opted_out) - set(Category.values)
    if unknown:
        raise ApplicationError("Unknown categories.", {"opted_out": sorted(unknown)})
    if (quiet_hours_start is None) != (quiet_hours_end is None):
        raise ApplicationError("Quiet hours need both a start and an end.")
    preference, _ = ContactPreference.objects.select_for_update().get_or_create(customer=customer)
    preference.opted_out = sorted(set(opted_out))
    preference.quiet_hours_start = quiet_hours_start
    preference.quiet_hours_end = quiet_hours_end
    preference.save(update_fields=["opted_out", "quiet_hours_start", "quiet_hours_end", "updated_at"])
    return preference


def _verification_url(user: User) -> str:
    token = token_make(purpose="verify-email", value=[user.pk, user.email])
    return f"{settings.SITE_URL}{reverse('help-verify-email', kwargs={'token': token})}"


def user_verification_send(*, user: User) -> None:
    """E-mail the account a signed, expiring link that proves the address (``user_email_verify``).

    At most one a minute per account: the key repeats within the minute, and the ledger keeps one row.
    """
    if user.email_verified:
        return
    days = token_max_age("verify-email").days or 1
    delivery_plan(
        key=f"verify-email:{user.pk}:{timezone.now():%Y%m%d%H%M}",
        category=Category.SERVICE,
        subject="Confirm your e-mail address",
        body=(
            f"Hello {user.get_short_name()},\n\nsomeone (we hope you) opened a help-center account with this "
            f"address. Confirm it is yours here:\n\n{_verification_url(user)}\n\n"
            f"Until you do, the account sees only the requests filed with it. The link works for {days} "
            "day(s), once.\n\nIf it was not you, ignore this message: nobody sees your requests.\n"
        ),
        recipient=user.email,
        source=f"user:{user.pk}",
    )


def user_password_reset_send(*, user: User, subject: str, body: str, token: str, recipient: str = "") -> None:
    """Plan the password-reset e-mail Django's reset form wrote (``subject``, ``body`` with its ``token``
    link) as the account's customer's, in the ledger like every other message.

    One row per reset token: the key repeats when the form is submitted twice for the same token.
    """
    delivery_plan(
        key=f"password-reset:{user.pk}:{token}",
        category=Category.SERVICE,
        subject=subject,
        body=body,
        customer=Customer.objects.filter(user=user).first(),
        recipient=recipient or user.email,
        source=f"user:{user.pk}",
    )


def _account_exists_send(*, user: User) -> None:
    """Someone signed up with the address of an existing account: tell the address, not the form.

    At most one an hour per account, so the form cannot be used to flood a mailbox.
    """
    sign_in = f"{settings.SITE_URL}{reverse('login')}"
    reset = f"{settings.SITE_URL}{reverse('password_reset')}"
    delivery_plan(
        key=f"account-exists:{user.pk}:{timezone.now():%Y%m%d%H}",
        category=Category.SERVICE,
        subject="You already have an account",
        body=(
            "Hello,\n\nsomeone (we hope you) tried to open a help-center account with this address, "
            f"but it has one already.\n\nSign in: {sign_in}\nForgot the password? Choose a new one: {reset}\n\n"
            "If it was not you, ignore this message: nothing has changed.\n"
        ),
        customer=Customer.objects.filter(user=user).first(),
        recipient=user.email,
        source=f"user:{user.pk}",
    )


@transaction.atomic
def customer_sign_up(*, email: str, name: str, password: str) -> User | None:
    """A help-center account, unconfirmed: the address is e-mailed a link that proves it.

    The answer is the same whether the address has an account or not (no enumeration): a new address gets
    an account and the confirmation link; an address with an account gets "sign in or reset your password".
    The new account is linked to no customer record (so it sees nothing of one) until it is confirmed.
    Returns the new account, or None where the address had one.
    """
    email = email.strip().lower()
    existing = User.objects.filter(email=email).first()
    if existing is None:
        try:
            with transaction.atomic():
                user = User.objects.create_user(email=email, name=name.strip(), password=password)
        except IntegrityError:  # a concurrent sign-up with the same address won the race
            existing = User.objects.filter(email=email).first()
        else:
            user_verification_send(user=user)
            return user
    if existing is not None:
        make_password(password)  # the same work either way, so the time taken does not tell either
        _account_exists_send(user=existing)
    return None


def user_verification_read(*, token: str) -> User:
    """The account a confirmation link is for. ``TokenExpired``/``TokenInvalid`` for a bad one; a link made
    for an address the account no longer has is invalid."""
    value = token_read(purpose="verify-email", token=token)
    try:
        user_id, email = int(value[0]), str(value[1])
    except (TypeError, ValueError, IndexError, KeyError) as exc:
        raise TokenInvalid("malformed") from exc
    user = User.objects.filter(pk=user_id, email=email, is_active=True).first()
    if user is None:
        raise TokenInvalid("no such account")
    return user


@transaction.atomic
def user_email_verify(*, user: User, password: str | None = None) -> Customer | None:
    """The address of ``user`` is proven (a confirmation link, a password reset): link their customer record,
    which grants its requests. Agents get no customer record.

    With ``password`` (the person who read the link does not know the one chosen at sign-up, perhaps because
    someone else chose it) the password is replaced, which also ends every other session of the account.
    """
    locked = User.objects.select_for_update().get(pk=user.pk)
    fields = []
    if locked.email_verified_at is None:
        locked.email_verified_at = timezone.now()
        fields.append("email_verified_at")
    if password is not None:
        locked.set_password(password)
        fields.append("password")
    if fields:
        locked.save(update_fields=fields)
    user.email_verified_at, user.password = locked.email_verified_at, locked.password
    if is_agent(locked):
        return None
    return customer_link_user(user=locked)
