import factory

from playbooks.models import Playbook, PlaybookStep, Signal, SignalKind
from tests.factories import AgentFactory


class SignalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Signal

    name = factory.Sequence(lambda n: f"Signal {n}")
    kind = SignalKind.USAGE_DROP
    params = factory.LazyAttribute(lambda o: {"event_kind": "login", "threshold": 2, "weeks": 3})


class PlaybookFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Playbook

    name = factory.Sequence(lambda n: f"Playbook {n}")
    signal = factory.SubFactory(SignalFactory)
    owner_agent = factory.SubFactory(AgentFactory)
    cooldown_days = 30
    is_active = True


class PlaybookStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlaybookStep

    playbook = factory.SubFactory(PlaybookFactory)
    position = factory.Sequence(lambda n: n + 1)
    action = "create_ticket"
