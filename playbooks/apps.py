from django.apps import AppConfig


class PlaybooksConfig(AppConfig):
    name = "playbooks"

    def ready(self) -> None:
        from playbooks.panels import customer_story, raised_by  # noqa: PLC0415
        from tickets.panels import register_ticket_panel  # noqa: PLC0415

        register_ticket_panel(raised_by)
        register_ticket_panel(customer_story)
