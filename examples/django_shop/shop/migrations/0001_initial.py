"""The shop's tables (made by ``makemigrations``, then given docstrings and ``ClassVar``)."""

from typing import ClassVar

import django.db.models.deletion
from django.db import migrations, models

import shop.models


class Migration(migrations.Migration):
    """Create visitors, events, orders and tickets."""

    initial = True

    dependencies: ClassVar[list[tuple[str, str]]] = []

    operations: ClassVar[list[migrations.operations.base.Operation]] = [
        migrations.CreateModel(
            name="Event",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("title", models.CharField(max_length=200)),
                ("starts_at", shop.models.InstantField()),
                ("price_cents", models.PositiveIntegerField()),
            ],
            options={
                "ordering": ["starts_at"],
            },
        ),
        migrations.CreateModel(
            name="Order",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "code",
                    models.CharField(
                        default=shop.models.new_order_code, max_length=16, unique=True
                    ),
                ),
                ("created_at", shop.models.InstantField()),
                ("total_cents", models.PositiveIntegerField()),
                ("billing_name", models.CharField(blank=True, max_length=200, null=True)),
                ("billing_email", models.CharField(blank=True, max_length=200, null=True)),
            ],
        ),
        migrations.CreateModel(
            name="Ticket",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "barcode",
                    models.CharField(default=shop.models.new_barcode, max_length=32, unique=True),
                ),
                ("price_cents", models.PositiveIntegerField()),
                (
                    "attendee_ref",
                    models.CharField(blank=True, db_index=True, max_length=32, null=True),
                ),
                ("attendee_name", models.CharField(blank=True, max_length=200, null=True)),
                ("attendee_email", models.CharField(blank=True, max_length=200, null=True)),
                (
                    "event",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="tickets",
                        to="shop.event",
                    ),
                ),
                (
                    "order",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="tickets",
                        to="shop.order",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="Visitor",
            fields=[
                (
                    "id",
                    models.CharField(
                        default=shop.models.new_visitor_id,
                        max_length=32,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[("account", "account"), ("guest", "guest")], max_length=16
                    ),
                ),
                ("name", models.CharField(blank=True, max_length=200, null=True)),
                ("email", models.CharField(blank=True, max_length=200, null=True)),
                ("phone", models.CharField(blank=True, max_length=40, null=True)),
                ("postcode", models.CharField(blank=True, max_length=16, null=True)),
                ("created_at", shop.models.InstantField()),
                ("last_login_at", shop.models.InstantField(blank=True, null=True)),
                ("restricted", models.BooleanField(default=False)),
            ],
            options={
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("kind__in", ["account", "guest"])), name="visitor_kind"
                    )
                ],
            },
        ),
        migrations.AddField(
            model_name="order",
            name="buyer",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="orders",
                to="shop.visitor",
            ),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(fields=["buyer", "created_at"], name="shop_order_buyer"),
        ),
    ]
