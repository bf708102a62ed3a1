"""The ticket shop app: visitors, events, orders and tickets, with avgkit at checkout."""
