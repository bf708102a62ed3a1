"""The shop's pages: the programme, the checkout, sign-in and "my account".

Every instant comes from avgkit's clock (``kit.clock``), so that tests and the nightly
clean-up agree with the pages about what "now" is.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from avgkit.consent import ConsentStatus
from avgkit.dsar import RequestKind, RequestStatus
from shop.avg import ShopAvg, shop_avg
from shop.checkout import Purchase, place_order
from shop.consents import OFFERED, WORDING, evidence
from shop.forms import CheckoutForm, ConsentForm, DeleteAccountForm, SignInForm
from shop.models import Event, Order, Visitor
from shop.payments import PaymentDeclinedError

COOKIE = "shop_visitor"
_SALT = "shop.visitor"
_CLOSED = frozenset({RequestStatus.COMPLETED, RequestStatus.REFUSED})


def signed_in(request: HttpRequest) -> Visitor | None:
    """The visitor the request's signed cookie names, if they still exist."""
    visitor_id = request.get_signed_cookie(
        COOKIE, default=None, salt=_SALT, max_age=settings.SIGNED_COOKIE_AGE
    )
    if visitor_id is None:
        return None
    return Visitor.objects.filter(pk=visitor_id).first()


def _remember(response: HttpResponse, visitor: Visitor) -> HttpResponse:
    response.set_signed_cookie(
        COOKIE,
        visitor.id,
        salt=_SALT,
        max_age=settings.SIGNED_COOKIE_AGE,
        httponly=True,
        samesite="Lax",
        secure=not settings.DEBUG,
    )
    return response


def _to_signin() -> HttpResponseRedirect:
    return redirect("shop:signin")


@require_GET
def events(request: HttpRequest) -> HttpResponse:
    """The performances still to come."""
    now = shop_avg().kit.clock.now()
    coming = Event.objects.filter(starts_at__gt=now)
    return render(request, "shop/events.html", {"events": coming, "visitor": signed_in(request)})


@require_http_methods(["GET", "POST"])
def checkout(request: HttpRequest, event_id: int) -> HttpResponse:
    """Buy seats for a performance; the opt-ins are stored with the order, or not at all."""
    shop = shop_avg()
    event = get_object_or_404(Event, pk=event_id, starts_at__gt=shop.kit.clock.now())
    visitor = signed_in(request)
    form = CheckoutForm(request.POST or None)
    declined = False
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        purchase = Purchase(
            event=event,
            seats=data["seats"],
            name=data["name"],
            email=data["email"],
            keep_account=data["keep_account"],
            consents=form.consents(),
            payment=data["payment"],
            companion_name=data["companion_name"],
            companion_email=data["companion_email"],
        )
        try:
            order = place_order(shop, purchase, visitor=visitor)
        except PaymentDeclinedError:
            declined = True  # nothing was stored: say so, and let them try again
        else:
            response = redirect("shop:confirmation", code=order.code)
            return _remember(response, order.buyer)
    context = {"event": event, "form": form, "declined": declined, "visitor": visitor}
    return render(request, "shop/checkout.html", context, status=402 if declined else 200)


@require_GET
def confirmation(request: HttpRequest, code: str) -> HttpResponse:
    """The order just placed, for its buyer only."""
    visitor = signed_in(request)
    if visitor is None:
        return _to_signin()
    order = Order.objects.filter(code=code, buyer=visitor).first()
    if order is None:
        raise Http404
    tickets = order.tickets.select_related("event").order_by("pk")
    context = {"order": order, "tickets": tickets, "visitor": visitor}
    return render(request, "shop/confirmation.html", context)


@require_http_methods(["GET", "POST"])
def signin(request: HttpRequest) -> HttpResponse:
    """Sign in with an order code and the e-mail address it was bought with."""
    form = SignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        order = (
            Order.objects.filter(
                code=form.cleaned_data["code"].strip().upper(),
                buyer__email__iexact=form.cleaned_data["email"],
            )
            .select_related("buyer")
            .first()
        )
        if order is not None:
            visitor = order.buyer
            visitor.last_login_at = shop_avg().kit.clock.now()  # "login" activity
            visitor.save(update_fields=["last_login_at"])
            return _remember(redirect("shop:account"), visitor)
        form.add_error(None, "No order with that code and e-mail address.")
    return render(request, "shop/signin.html", {"form": form})


@require_POST
def signout(request: HttpRequest) -> HttpResponse:  # noqa: ARG001 - a view's signature
    """Forget the sign-in."""
    response = redirect("shop:events")
    response.delete_cookie(COOKIE, samesite="Lax")
    return response


def account_context(shop: ShopAvg, visitor: Visitor) -> dict[str, Any]:
    """What "my account" shows: orders, consents and their history, dates, requests."""
    kit = shop.kit
    now = kit.clock.now()
    consents = [
        {
            "purpose": purpose,
            "wording": WORDING[purpose],
            "given": kit.consent.state(visitor.id, purpose).status is ConsentStatus.GIVEN,
        }
        for purpose in OFFERED
    ]
    erasures = [
        r
        for r in kit.dsar.for_subject(visitor.id)
        if r.kind is RequestKind.ERASURE and r.status not in _CLOSED
    ]
    deferral = kit.erasure.deferral(visitor.id) if erasures else None
    return {
        "visitor": visitor,
        "orders": visitor.orders.prefetch_related("tickets__event").order_by("-created_at"),
        "consents": consents,
        "history": kit.consent.history(visitor.id),
        "dates": [d for d in kit.retention.dates(visitor.id) if not d.warning],
        "erasure_pending": bool(erasures),
        "deferral": deferral,
        "now": now,
        "delete_form": DeleteAccountForm(),
    }


@require_GET
def account(request: HttpRequest) -> HttpResponse:
    """My account: orders, consents (give, withdraw, history), download, delete."""
    visitor = signed_in(request)
    if visitor is None:
        return _to_signin()
    return render(request, "shop/account.html", account_context(shop_avg(), visitor))


@require_POST
def consent(request: HttpRequest) -> HttpResponse:
    """Give or withdraw one consent."""
    visitor = signed_in(request)
    if visitor is None:
        return _to_signin()
    form = ConsentForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Unknown purpose or action.", status=400, content_type="text/plain")
    kit = shop_avg().kit
    purpose = form.cleaned_data["purpose"]
    if form.cleaned_data["action"] == "give":
        kit.consent.give(visitor.id, purpose, evidence(purpose))
    else:
        kit.consent.withdraw(visitor.id, purpose, evidence(purpose))
    return redirect("shop:account")


@require_GET
def export(request: HttpRequest) -> HttpResponse:
    """Download of the access export (Art. 15): JSON valid against avgkit's schema."""
    visitor = signed_in(request)
    if visitor is None:
        return _to_signin()
    kit = shop_avg().kit
    document = kit.dsar.export(visitor.id)
    day = kit.clock.now().date().isoformat()
    response = HttpResponse(document.to_json(), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="my-data-{day}.json"'
    response["Cache-Control"] = "no-store"  # personal data: no copy in a cache
    return response


@require_POST
def delete_account(request: HttpRequest) -> HttpResponse:
    """Erase my account through avgkit (an erasure request, answered at once if it can be)."""
    visitor = signed_in(request)
    if visitor is None:
        return _to_signin()
    shop = shop_avg()
    form = DeleteAccountForm(request.POST)
    if not form.is_valid():
        context = account_context(shop, visitor) | {"delete_form": form}
        return render(request, "shop/account.html", context, status=400)
    requests = shop.kit.dsar
    received = requests.receive(visitor.id, RequestKind.ERASURE, actor="subject")
    # Signed in with the order code and e-mail address: identity established by the shop.
    requests.verify(received.id, verified=True, actor="system")
    answered = requests.fulfil(received.id, actor="system")
    if not answered.done:  # an upcoming visit: erased after it, by the nightly clean-up
        return redirect(reverse("shop:account") + "#erasure")
    response = render(request, "shop/goodbye.html", {"visitor": None})
    response.delete_cookie(COOKIE, samesite="Lax")
    return response
