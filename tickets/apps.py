from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "tickets"

    def ready(self) -> None:
        from anymail.signals import inbound  # noqa: PLC0415

        from tickets.inbound.webhooks import anymail_inbound_received  # noqa: PLC0415

        # anymail's documented integration point for inbound mail (a library signal, not a domain one)
        inbound.connect(anymail_inbound_received, dispatch_uid="tickets.inbound.webhook")
