"""One service for every caller: the API hands ``StaffUsers`` the ``Caller`` it resolved once,
whether an API key or a staff member called (issue 15 item 6)."""

from __future__ import annotations

import pytest

from bookplate.roles.errors import NotStaff, PermissionDenied
from bookplate.roles.model import Actor, Caller
from bookplate.roles.policy import Action
from bookplate.roles.staff import capabilities, require_any
from bookplate.users.errors import UserNotFound, UserNotFoundByType
from bookplate.users.model import Identifier, User, UserInput
from tests.functional.conftest import Api
from tests.functional.test_staff_api import bearer, staff  # noqa: F401 (fixture)
from tests.functional.test_users_api import body, error_code


def _patron(primary_id: str) -> UserInput:
    return UserInput(
        User(
            primary_id,
            record_type="PUBLIC",
            user_group="UNDERGRAD",
            last_name="Reader",
            identifiers=[Identifier("BARCODE", f"BC-{primary_id}")],
        )
    )


def test_an_integration_caller_goes_straight_to_the_user_services(api: Api) -> None:
    c = api.container
    caller = Caller.integration("MAIN", "k-17")
    made = c.staff.create(caller, _patron("reader1"))
    assert made.created_by == "api:k-17"
    got = c.staff.get(caller, "BC-reader1")
    assert got.primary_id == "reader1"
    assert got.identifiers  # no policy trims an integration's view
    assert [r.actor for r in c.users.history("MAIN", "reader1")] == ["api:k-17"]
    c.staff.delete(caller, "reader1")
    with pytest.raises(UserNotFound):
        c.staff.get(caller, "reader1")


def test_a_staff_caller_is_the_actor_behind_the_policy(
    api: Api,
    staff: dict[str, str],  # noqa: F811 (fixture)
) -> None:
    c = api.container
    patron = Caller.staff(Actor("patron", "MAIN"))  # no grants: the policy refuses
    with pytest.raises(PermissionDenied):
        c.staff.create(patron, _patron("reader2"))
    with pytest.raises(PermissionDenied):
        require_any(patron, Action.RUN_SIS)
    assert require_any(Caller.integration("MAIN", "k"), Action.RUN_SIS).who == "api:k"
    # The API's own resolution: a token becomes the staff Caller, its audit name "staff:…".
    r = api.client.post(
        "/almaws/v1/users", headers=bearer(staff["manager"]), json=body("reader3")
    )
    assert r.status_code == 200, r.text
    assert [h.actor for h in c.users.history("MAIN", "reader3")] == ["staff:manager"]


def test_capabilities_belong_to_staff(api: Api) -> None:
    with pytest.raises(NotStaff):
        capabilities(Caller.integration("MAIN", "k"))
    r = api.client.get("/bookplate/v1/me/capabilities", headers=api.h())
    assert r.status_code == 403
    assert error_code(r) == "FORBIDDEN"


def test_a_typed_look_up_raises_its_own_error(api: Api) -> None:
    caller = Caller.integration("MAIN", "k")
    with pytest.raises(UserNotFoundByType):
        api.container.staff.get(caller, "nobody", "BARCODE")
    with pytest.raises(UserNotFound) as default:
        api.container.staff.get(caller, "nobody")
    assert not isinstance(default.value, UserNotFoundByType)
    r = api.client.delete("/almaws/v1/users/nobody?user_id_type=BARCODE", headers=api.h())
    assert error_code(r) == "401890"
    r = api.client.delete("/almaws/v1/users/nobody", headers=api.h())
    assert error_code(r) == "401861"


def test_what_another_area_read_is_shown_as_the_caller_may_see_it(
    api: Api,
    staff: dict[str, str],  # noqa: F811 (fixture)
) -> None:
    """``visible`` and ``check_view``: the linked-account and network-history routes hand
    over the caller instead of testing whether it is a staff member."""
    c = api.container
    key = Caller.integration("MAIN", "k")
    read = c.users.get("MAIN", "manager")
    assert c.staff.visible(key, read) is read  # an integration sees the record whole
    c.staff.check_view(key, "nobody")  # its key's area was checked: nothing more to ask
    desk = c.tokens.actor(staff["desk"])
    assert desk is not None
    shown = c.staff.visible(Caller.staff(desk), read)
    assert shown.primary_id == "manager"
    assert shown.identifiers == []  # a desk operator sees the primary ID only
    with pytest.raises(UserNotFound):
        c.staff.check_view(Caller.staff(desk), "nobody")
    patron = Caller.staff(Actor("patron", "MAIN"))  # no grants: the policy refuses
    with pytest.raises(PermissionDenied):
        c.staff.visible(patron, read)
    with pytest.raises(PermissionDenied):
        c.staff.check_view(patron, "manager")
