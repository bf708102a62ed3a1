"""The shop's forms."""

from __future__ import annotations

from typing import Any

from django import forms

from shop.consents import OFFERED, WORDING
from shop.payments import METHODS

__all__ = ["CheckoutForm", "ConsentForm", "DeleteAccountForm", "SignInForm"]

MAX_SEATS = 6


class CheckoutForm(forms.Form):
    """Seats, the buyer's details, a companion's (optional), the opt-ins, the payment."""

    seats = forms.IntegerField(min_value=1, max_value=MAX_SEATS, initial=1)
    name = forms.CharField(max_length=200)
    email = forms.EmailField(max_length=200)
    keep_account = forms.BooleanField(
        required=False, label="Keep an account (otherwise your details go after the visit)"
    )
    companion_name = forms.CharField(max_length=200, required=False)
    companion_email = forms.EmailField(max_length=200, required=False)
    payment = forms.ChoiceField(choices=list(METHODS.items()), initial="ideal")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for purpose in OFFERED:  # unticked by default, worded exactly as hashed
            self.fields[f"consent_{purpose}"] = forms.BooleanField(
                required=False, label=WORDING[purpose]
            )

    def clean(self) -> dict[str, Any]:
        """A companion needs a seat of their own, and a name."""
        data = super().clean() or {}
        if data.get("companion_email") and not data.get("companion_name"):
            self.add_error("companion_name", "Give your companion's name too.")
        if data.get("companion_name") and (data.get("seats") or 0) < 2:  # noqa: PLR2004
            self.add_error("seats", "A companion needs a second seat.")
        return data

    def consents(self) -> frozenset[str]:
        """The purposes whose box was ticked."""
        return frozenset(p for p in OFFERED if self.cleaned_data.get(f"consent_{p}"))

    def consent_fields(self) -> list[forms.BoundField]:
        """The opt-in boxes, for the template."""
        return [self[f"consent_{purpose}"] for purpose in OFFERED]


class SignInForm(forms.Form):
    """An order code and the e-mail address it was bought with."""

    code = forms.CharField(max_length=16, label="Order code")
    email = forms.EmailField(max_length=200)


class ConsentForm(forms.Form):
    """Give or withdraw one consent from the account page."""

    purpose = forms.ChoiceField(choices=[(p, p) for p in OFFERED])
    action = forms.ChoiceField(choices=[("give", "give"), ("withdraw", "withdraw")])


class DeleteAccountForm(forms.Form):
    """The confirmation box of "delete my account"."""

    confirm = forms.BooleanField(label="Yes, erase my account and my data.")
