"""``manage.py avgkit_cleanup``: the nightly clean-up, by the kit's retention policy.

Plans what the policy says is due (inactive accounts, guests after their visit, fiscal
records past the tax term), carries it out through avgkit (warnings by e-mail first where
the rule promises one), and finishes the erasure requests that waited for a visit.
``--dry-run`` prints the plan and changes nothing. Subjects are printed by their
pseudonymous reference, never by name.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.mail import send_mail
from django.core.management.base import BaseCommand, CommandParser

from avgkit import Kit
from avgkit.retention import PlannedAction, RetentionPlan, WarnCallback
from avgkit.subjects import SubjectId
from shop.avg import shop_avg
from shop.models import Visitor


def warner(kit: Kit) -> WarnCallback:
    """The ``warn`` callback of the run: e-mail a visitor before their account is erased."""
    grace = {rule.key: rule.warn_before for rule in kit.retention.policy.rules}

    def send_warning(subject: SubjectId, action: PlannedAction) -> None:
        visitor = Visitor.objects.filter(pk=subject).first()
        if visitor is None or not visitor.email:
            return
        # The erasure comes once the warning's grace period has run, counted from now.
        when = kit.clock.now() + (grace.get(action.rule) or relativedelta())
        send_mail(
            "Your account at the theatre",
            (
                "We have not seen you for a while. Unless you sign in or buy a ticket, your "
                f"account and its data are erased on {when:%d %B %Y}."
            ),
            settings.DEFAULT_FROM_EMAIL,
            [visitor.email],
        )

    return send_warning


class Command(BaseCommand):
    """Run the retention policy: plan, warn, erase; ``--dry-run`` only plans."""

    help = "Carry out what the retention policy says is due (--dry-run: only list it)."

    def add_arguments(self, parser: CommandParser) -> None:
        """``--dry-run``."""
        parser.add_argument(
            "--dry-run", action="store_true", help="list the due actions, change nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:  # noqa: ARG002 - Django's signature
        """Plan, then carry out (unless a dry run)."""
        kit = shop_avg().kit
        plan = kit.retention.plan()
        if options["dry_run"]:
            self.list_plan(kit, plan)
        else:
            self.carry_out(kit, plan)

    def list_plan(self, kit: Kit, plan: RetentionPlan) -> None:
        """Print every action of the plan (due, warning or deferred); change nothing."""
        due = 0
        for action in plan:
            who = (
                kit.audit.subject_ref(action.subject)
                if action.subject is not None
                else f"{action.source} record"
            )
            state = "deferred" if action.deferred else ("warn" if action.warning else "due")
            self.stdout.write(
                f"{state:8} {action.rule:22} {action.action.value:9} {who} ({action.reason})"
            )
            due += not action.deferred
        self.stdout.write(f"dry run at {plan.at:%Y-%m-%d %H:%M} UTC: {due} due, nothing changed")

    def carry_out(self, kit: Kit, plan: RetentionPlan) -> None:
        """Execute the plan, then finish the erasure requests a visit was holding up."""
        summary = kit.retention.execute(plan, warn=warner(kit))
        outcomes: Counter[str] = Counter()
        for (rule, action, outcome), n in sorted(summary.counts.items()):
            self.stdout.write(f"{rule:22} {action:9} {outcome:14} {n}")
            outcomes[outcome] += n
        resumed = sum(1 for answered in kit.dsar.resume() if answered.done)
        counted = ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items())) or "none due"
        self.stdout.write(
            f"retention plan {summary.plan_id[:12]}: {outcomes.total()} actions ({counted}); "
            f"{resumed} erasure request(s) finished after a visit"
        )
