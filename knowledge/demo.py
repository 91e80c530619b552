"""Demo help-center content (``manage.py load_demo``): four topics, two dozen articles, a couple of drafts."""

from typing import Any

from core.models import User
from customers.models import Product, Tag
from knowledge.models import Article, Category
from knowledge.services import article_create, article_publish, category_create

CATEGORIES = [
    # slug, name, description
    ("getting-started", "Getting started", "Set up your workspace, invite your team and learn the basics."),
    ("account-security", "Account and security", "Sign-in, passwords, two-factor authentication and access."),
    ("billing", "Billing and plans", "Invoices, payment methods, plan changes and refunds."),
    ("integrations-api", "Integrations and API", "Connect other tools, use the public API and export your data."),
]

# category slug, title, products, tags, draft?, body
ARTICLES: list[tuple[str, str, list[str], list[str], bool, str]] = [
    (
        "getting-started",
        "Create your workspace",
        [],
        ["new"],
        False,
        "A workspace holds your team, your data and your settings.\n\n1. Sign up with your work e-mail.\n"
        "2. Choose a workspace name; you can change it later under **Settings → General**.\n"
        "3. Pick the region closest to your customers (it cannot be changed later).\n\n"
        "You land on the dashboard, ready to invite your team.",
    ),
    (
        "getting-started",
        "Invite your team",
        [],
        ["new"],
        False,
        "Go to **Settings → Members** and choose **Invite**. Enter one e-mail address per line.\n\n"
        "Invitations expire after 7 days; you can resend them from the same page. Members on the *Free* plan "
        "are limited to 5; see [plans](https://example.com/pricing).",
    ),
    (
        "getting-started",
        "A tour of the dashboard",
        ["Analytics"],
        [],
        False,
        "The dashboard shows the last 30 days at a glance: active users, sessions and errors.\n\n"
        "- Click a chart to drill down.\n- Use the date picker (top right) to change the period.\n"
        "- Pin the reports you use most with the star icon.",
    ),
    (
        "getting-started",
        "Install the mobile app",
        ["Mobile app"],
        [],
        False,
        "The app is available for iOS 16+ and Android 10+. Search for *Acme Workspace* in the App Store or "
        "Google Play, then sign in with the same e-mail and password you use on the web.\n\n"
        "Push notifications are off by default; turn them on under **Profile → Notifications**.",
    ),
    (
        "getting-started",
        "Import your existing data",
        ["Data export"],
        [],
        False,
        "You can import customers and events from a CSV file under **Settings → Import**.\n\n"
        "The first row must hold column names. Dates should be in ISO 8601 (`2026-01-31T09:00:00Z`). "
        "Imports of up to 1 million rows run in the background; you get an e-mail when they finish.",
    ),
    (
        "getting-started",
        "Keyboard shortcuts",
        [],
        [],
        False,
        "Press `?` anywhere to see every shortcut.\n\n| Key | Action |\n|---|---|\n| `g d` | Go to the dashboard |\n"
        "| `/` | Search |\n| `n` | New report |",
    ),
    (
        "account-security",
        "Reset your password",
        [],
        [],
        False,
        "Forgot your password? On the sign-in page choose **Forgot password**, enter your e-mail address and "
        "follow the link we send you. The link works for 24 hours and only once.\n\n"
        "No e-mail after a few minutes? Check your spam folder, then make sure you typed the address you signed "
        "up with. Single sign-on users reset their password with their identity provider instead.",
    ),
    (
        "account-security",
        "Turn on two-factor authentication",
        [],
        ["vip"],
        False,
        "Two-factor authentication (2FA) protects your account even if your password leaks.\n\n"
        "1. Open **Profile → Security**.\n2. Choose **Enable 2FA** and scan the QR code with an authenticator app.\n"
        "3. Enter the six-digit code and store your recovery codes somewhere safe.",
    ),
    (
        "account-security",
        "Lost your two-factor device",
        [],
        [],
        False,
        "Use one of your recovery codes in place of the six-digit code. Each code works once.\n\n"
        "No recovery codes left? An owner of your workspace can reset 2FA for you under **Settings → Members**. "
        "If you are the only owner, contact support from the e-mail address on the account.",
    ),
    (
        "account-security",
        "Change the e-mail address you sign in with",
        [],
        [],
        False,
        "Open **Profile → Account**, enter the new address and confirm it from the e-mail we send there. "
        "Until you confirm, you keep signing in with the old address.",
    ),
    (
        "account-security",
        "Set up single sign-on (SAML)",
        ["Public API"],
        ["vip"],
        False,
        "Single sign-on is available on the *Enterprise* plan.\n\n"
        "Under **Settings → Security → SSO** copy our ACS URL and entity ID into your identity provider, then "
        "upload its metadata XML. Test with one account before you enforce SSO for everyone.",
    ),
    (
        "account-security",
        "Why was I signed out?",
        [],
        [],
        False,
        "Sessions end after 14 days without activity, when you change your password, or when an owner enforces "
        "single sign-on. Signing in again restores everything; nothing you saved is lost.",
    ),
    (
        "billing",
        "Download an invoice",
        ["Billing"],
        [],
        False,
        "Owners and billing admins find every invoice under **Settings → Billing → Invoices**. Choose an "
        "invoice to download it as a PDF. Invoices are issued on the first day of each billing period.",
    ),
    (
        "billing",
        "Update your payment method",
        ["Billing"],
        [],
        False,
        "Go to **Settings → Billing → Payment method** and choose **Replace card**. We charge the new card from "
        "the next invoice on. Failed payments are retried three times over a week.",
    ),
    (
        "billing",
        "Change your plan",
        ["Billing"],
        [],
        False,
        "Upgrades take effect at once and are charged pro rata. Downgrades take effect at the end of the current "
        "billing period. Choose **Settings → Billing → Change plan** to compare plans.",
    ),
    (
        "billing",
        "Add your VAT number to invoices",
        ["Billing"],
        [],
        False,
        "Enter your VAT ID under **Settings → Billing → Company details**. It appears on every invoice issued "
        "after you save it; past invoices cannot be changed.",
    ),
    (
        "billing",
        "Refund policy",
        ["Billing"],
        [],
        False,
        "Annual plans can be refunded in full within 30 days of purchase. Monthly plans are not refunded, but you "
        "can cancel at any time and keep access until the end of the period.",
    ),
    (
        "billing",
        "Cancel your subscription",
        ["Billing"],
        ["churn-risk"],
        False,
        "Owners can cancel under **Settings → Billing → Cancel subscription**. Your data is kept for 90 days so "
        "you can come back; export it first if you want a copy.",
    ),
    (
        "integrations-api",
        "Create an API token",
        ["Public API"],
        [],
        False,
        "API tokens are created under **Settings → API**. A token acts with the permissions of the member who "
        "created it, so create it from a dedicated service account.\n\n```\ncurl -H 'Authorization: Token "
        "YOUR_TOKEN' https://api.example.com/v1/projects\n```",
    ),
    (
        "integrations-api",
        "API rate limits",
        ["Public API"],
        [],
        False,
        "Each token may make 600 requests per minute. Over the limit the API answers `429 Too Many Requests` "
        "with a `Retry-After` header: wait that many seconds, then retry.",
    ),
    (
        "integrations-api",
        "Export your data to CSV",
        ["Data export"],
        [],
        False,
        "Choose **Reports → Export** and pick the columns and period. Exports over 100,000 rows are e-mailed "
        "as a link that works for 7 days.",
    ),
    (
        "integrations-api",
        "Connect Slack",
        [],
        [],
        False,
        "Under **Settings → Integrations** choose **Slack** and approve the connection. Then pick the channel "
        "for alerts. Each alert rule can post to a different channel.",
    ),
    (
        "integrations-api",
        "Webhooks",
        ["Public API"],
        [],
        False,
        "Webhooks send an HTTP POST to your URL when something happens. Each request is signed with an "
        "`X-Signature` header (HMAC-SHA256 of the body with your secret): verify it before trusting the data.",
    ),
    (
        "integrations-api",
        "Schedule exports to S3",
        ["Data export"],
        ["beta"],
        True,
        "Draft: scheduled exports to your own S3 bucket are in beta. Describe the bucket policy here.",
    ),
    (
        "billing",
        "Pay by bank transfer",
        ["Billing"],
        [],
        True,
        "Draft: annual Enterprise plans can be paid by bank transfer. Add the bank details and the reference "
        "format once finance confirms them.",
    ),
]


def load(out: Any) -> None:
    author = User.objects.filter(email="agent@example.com").first()
    categories = {}
    for position, (slug, name, description) in enumerate(CATEGORIES):
        category = Category.objects.filter(slug=slug).first()
        if category is None:
            category = category_create(name=name, slug=slug, description=description, position=position)
        categories[slug] = category
    products = {product.name: product for product in Product.objects.all()}
    tags = {tag.name: tag for tag in Tag.objects.all()}
    existing = set(Article.objects.values_list("title", flat=True))
    for index, (category_slug, title, product_names, tag_names, draft, body) in enumerate(ARTICLES):
        if title in existing:
            continue
        article = article_create(
            title=title,
            body=body,
            author=author,
            category=categories[category_slug],
            products=[products[name] for name in product_names if name in products],
            tags=[tags[name] for name in tag_names if name in tags],
        )
        if not draft:
            article_publish(article=article, actor=author)
            # believable popularity: the account and billing basics are read most
            Article.objects.filter(pk=article.pk).update(view_count=(len(ARTICLES) - index) * 37 % 500 + 20)
    out.write(f"knowledge: {Category.objects.count()} categories, {Article.objects.count()} articles")
