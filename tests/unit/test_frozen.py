"""quick_init: the same constructor as the dataclass's own, and still frozen."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field

import pytest

from hybridgate.frozen import maker, quick_init
from hybridgate.policy.decide import Decision
from hybridgate.routing.select import Attempt, EndpointState, Snapshot
from hybridgate.store.records import AttemptRecord, UsageRecord


@dataclass(frozen=True, slots=True)
class Plain:
    a: int
    b: str | None
    c: float = 1.5
    d: tuple[int, ...] = ()
    e: dict[str, int] = field(default_factory=dict)
    f: list[int] = field(default_factory=list)


Quick = quick_init(
    dataclasses.make_dataclass(
        "Quick", [(f.name, f.type, f) for f in dataclasses.fields(Plain)], frozen=True, slots=True
    )
)


def as_tuple(x: object) -> tuple[object, ...]:
    return tuple(getattr(x, f.name) for f in dataclasses.fields(x))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((1, "x"), {}),
        ((1, None, 2.5), {"e": {"k": 1}}),
        ((), {"a": 3, "b": "y", "f": [4], "d": (1, 2)}),
        ((1, "x", 0.0, (5,), {"z": 0}, [9]), {}),
    ],
)
def test_same_fields_as_the_generated_init(args: tuple[object, ...], kwargs: dict[str, object]) -> None:
    assert as_tuple(Quick(*args, **kwargs)) == as_tuple(Plain(*args, **kwargs))  # type: ignore[arg-type]


def test_default_factories_give_each_instance_its_own_value() -> None:
    x, y = Quick(1, "x"), Quick(1, "x")
    assert x.e == {} and x.e is not y.e and x.f is not y.f


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((), {}), ((1,), {}), ((1, "x"), {"nope": 1}), ((1, "x"), {"a": 2}), ((1, "x", 1, 2, 3, 4, 5), {})],
)
def test_bad_calls_raise_type_error_like_the_generated_init(
    args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    with pytest.raises(TypeError):
        Plain(*args, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Quick(*args, **kwargs)


def test_instances_stay_frozen_and_comparable() -> None:
    q = Quick(1, "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.a = 2
    assert q == Quick(1, "x") and q != Quick(2, "x")
    assert dataclasses.replace(q, a=5).a == 5


def test_refuses_what_it_cannot_reproduce() -> None:
    @dataclass(slots=True)
    class Mutable:
        a: int

    @dataclass(frozen=True, slots=True)
    class WithPostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    @dataclass(frozen=True)
    class NoSlots:
        a: int

    for cls in (Mutable, WithPostInit, NoSlots):
        with pytest.raises(TypeError):
            quick_init(cls)


@pytest.mark.parametrize("cls", [UsageRecord, AttemptRecord, Decision, Attempt, EndpointState, Snapshot])
def test_per_request_records_use_it(cls: type) -> None:
    assert list(inspect.signature(cls.__init__).parameters)[1:] == [f.name for f in dataclasses.fields(cls)]
    assert "__setattr__" not in cls.__init__.__code__.co_names  # slot descriptors, not object.__setattr__


def test_instances_are_of_the_class_itself_and_a_subclass_keeps_its_own() -> None:
    q = Quick(1, "x", e={"k": 1})
    assert type(q) is Quick and as_tuple(q) == (1, "x", 1.5, (), {"k": 1}, [])

    class Sub(Quick):  # type: ignore[misc,valid-type]
        __slots__ = ("extra",)

    s = Sub(2, "y")
    assert type(s) is Sub and as_tuple(s) == (2, "y", 1.5, (), {}, [])
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.a = 3


QuickNew = maker(Quick)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((1, "x"), {}),
        ((1, None, 2.5), {"e": {"k": 1}}),
        ((), {"a": 3, "b": "y", "f": [4], "d": (1, 2)}),
        ((1, "x", 0.0, (5,), {"z": 0}, [9]), {}),
    ],
)
def test_maker_builds_what_the_constructor_builds(args: tuple[object, ...], kwargs: dict[str, object]) -> None:
    made = QuickNew(*args, **kwargs)
    assert type(made) is Quick and made == Quick(*args, **kwargs) and as_tuple(made) == as_tuple(Plain(*args, **kwargs))
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.a = 2
    assert QuickNew(1, "x").e is not QuickNew(1, "x").e


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((), {}), ((1,), {}), ((1, "x"), {"nope": 1}), ((1, "x"), {"a": 2}), ((1, "x", 1, 2, 3, 4, 5), {})],
)
def test_maker_refuses_bad_calls_like_the_constructor(args: tuple[object, ...], kwargs: dict[str, object]) -> None:
    with pytest.raises(TypeError):
        QuickNew(*args, **kwargs)
