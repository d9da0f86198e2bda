"""An event-driven flow: one run per `orders.arrived` event, its payload as the params.

cd examples/project
weir events send orders.arrived --payload '{"order_id": 42, "amount": 19.9}' --id order-42
weir scheduler        # runs it (a second send with the same --id starts nothing new)
"""

import weir


@weir.task
def validate(order_id: int, amount: float) -> dict[str, float]:
    if amount <= 0:
        raise ValueError(f"order {order_id}: amount must be positive, not {amount}")
    return {"order_id": order_id, "amount": amount}


@weir.task
def book(order: dict[str, float]) -> str:
    return f"booked order {order['order_id']:.0f} for {order['amount']:.2f}"


@weir.flow(schedule=weir.on_event("orders.arrived"))
def orders(order_id: int, amount: float) -> str:
    return book(validate(order_id, amount))
