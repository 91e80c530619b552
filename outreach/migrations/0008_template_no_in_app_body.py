"""Template.in_app_body goes: its help text said "shown in the help center", but nothing showed it to customers.

The in-app channel was removed (customers 0011); since then only the template form's own preview rendered this
text, so a manager who filled it in expected customers to read it and none ever did. Dropping the column loses what
was typed into it, by design: it was never shown to anyone but the template's editors, and it is not sent. A
manager who wants those words to reach customers puts them in the subject or the body (the e-mail).
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("outreach", "0007_campaign_hold_days"),
    ]

    operations = [
        migrations.RemoveField(model_name="template", name="in_app_body"),
    ]
