"""outreach 0008: a template's in-app body goes (nothing showed it to customers); the rest of the template stays."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("outreach", "0007_campaign_hold_days")]


@pytest.mark.django_db(transaction=True)
def test_the_in_app_body_is_dropped_and_the_template_keeps_its_subject_and_body():
    # given a template saved with an in-app body before the change
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    Template = executor.loader.project_state(BEFORE).apps.get_model("outreach", "Template")
    Template.objects.create(name="News", category="announcement", subject="s", body="b", in_app_body="Exports!")

    # when the migrations run
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    # then the template is there with what customers receive, and the text nobody saw is gone
    from outreach.models import Template as Current

    assert list(Current.objects.values_list("name", "subject", "body")) == [("News", "s", "b")]
    with connection.cursor() as cursor:
        columns = {c.name for c in connection.introspection.get_table_description(cursor, Current._meta.db_table)}
    assert "in_app_body" not in columns
