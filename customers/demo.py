"""Demo organizations, customers, agents and a manager (``manage.py load_demo``)."""

import datetime as dt
import random
from typing import Any

from django.contrib.auth.models import Group
from django.utils import timezone

from core.models import User
from core.roles import AGENTS, MANAGERS
from customers.models import Customer, CustomerEvent, Organization, OrganizationDomain, Product, Tag

PASSWORD = "demo"  # noqa: S105

PRODUCTS = ["Billing", "Analytics", "Mobile app", "Public API", "Data export"]
ORGANIZATIONS = [
    # name, domain, plan, region, products
    ("Acme Logistics", "acme.example", "enterprise", "eu-west", ["Billing", "Analytics", "Public API"]),
    ("Bluebird Health", "bluebird.example", "business", "us-east", ["Billing", "Mobile app"]),
    ("Cobalt Studios", "cobalt.example", "starter", "eu-west", ["Analytics"]),
    ("Dunmore Foods", "dunmore.example", "business", "ap-south", ["Billing", "Data export"]),
    ("Evergreen Schools", "evergreen.example", "free", "us-west", ["Mobile app"]),
]
FIRST = ["Ada", "Ben", "Chloe", "Dev", "Elif", "Femi", "Greta", "Hiro", "Ines", "Jonas", "Kira", "Luis", "Mara",
         "Nils", "Olga", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wes", "Yara"]  # fmt: skip
LAST = ["Lovelace", "Okafor", "Moreau", "Patel", "Kaya", "Adeyemi", "Lind", "Tanaka", "Costa", "Weber"]
ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Europe/London", "America/Los_Angeles", "UTC"]
STAFF = [
    ("manager@example.com", "Morgan Manager", MANAGERS),
    ("agent@example.com", "Alex Agent", AGENTS),
    ("sam@example.com", "Sam Support", AGENTS),
    ("riley@example.com", "Riley Responder", AGENTS),
]


def _user(email: str, name: str, *, staff: bool = False) -> User:
    user, created = User.objects.get_or_create(
        email=email, defaults={"name": name, "is_staff": staff, "email_verified_at": timezone.now()}
    )
    if created:
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
    return user


def load(out: Any) -> None:
    rng = random.Random(42)  # the same world every time
    for email, name, group in STAFF:
        user = _user(email, name, staff=group == MANAGERS)
        user.groups.add(Group.objects.get(name=group))
    products = {
        name: Product.objects.get_or_create(name=name, defaults={"slug": name.lower().replace(" ", "-")})[0]
        for name in PRODUCTS
    }
    tags = {name: Tag.objects.get_or_create(name=name)[0] for name in ["vip", "beta", "churn-risk", "new"]}
    today = timezone.localdate()
    organizations = []
    for index, (name, domain, plan, region, product_names) in enumerate(ORGANIZATIONS):
        org, created = Organization.objects.get_or_create(
            name=name,
            defaults={"plan": plan, "region": region, "renewal_date": today + dt.timedelta(days=20 + 45 * index)},
        )
        if created:
            org.products.set([products[p] for p in product_names])
            OrganizationDomain.objects.get_or_create(domain=domain, defaults={"organization": org})
        organizations.append((org, domain))
    now = timezone.now()
    for index in range(36):
        org, domain = organizations[index % len(organizations)]
        first, last = FIRST[index % len(FIRST)], LAST[(index * 7) % len(LAST)]
        customer, created = Customer.objects.get_or_create(
            email=f"{first.lower()}.{last.lower()}@{domain}",
            defaults={
                "name": f"{first} {last}",
                "organization": org,
                "timezone": ZONES[index % len(ZONES)],
                "external_id": f"usr_{1000 + index}",
                "created_at": now - dt.timedelta(days=400 - index * 9),
            },
        )
        if created:
            if index % 5 == 0:
                customer.tags.add(tags["vip"])
            if index % 7 == 3:
                customer.tags.add(tags["churn-risk"])
            # a few weeks of logins; the churn-risk ones have tailed off
            weekly = 1 if index % 7 == 3 else rng.randint(4, 9)
            events = [
                CustomerEvent(
                    customer=customer,
                    kind="login",
                    occurred_at=now - dt.timedelta(days=week * 7 + rng.random() * 6, hours=rng.randint(0, 23)),
                    event_id=f"demo-{customer.external_id}-{week}-{n}",
                )
                for week in range(4)
                for n in range(weekly if week == 0 else rng.randint(5, 9))
            ]
            CustomerEvent.objects.bulk_create(events, ignore_conflicts=True)
            Customer.objects.filter(pk=customer.pk).update(last_seen_at=max(e.occurred_at for e in events))
    # the help-center demo customer signs in
    customer_user = _user("customer@example.com", "Casey Customer")
    Customer.objects.get_or_create(
        email="customer@example.com",
        defaults={
            "name": "Casey Customer",
            "user": customer_user,
            "organization": organizations[0][0],
            "timezone": "Europe/Berlin",
            "external_id": "usr_0999",
        },
    )
    out.write(f"customers: {Organization.objects.count()} organizations, {Customer.objects.count()} customers")
