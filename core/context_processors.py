from django.http import HttpRequest

from core.policies import Capabilities
from core.roles import is_agent, is_manager


def roles(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    return {"user_is_agent": is_agent(user), "user_is_manager": is_manager(user), "can": Capabilities(user)}
