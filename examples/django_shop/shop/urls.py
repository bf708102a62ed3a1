"""The shop's pages."""

from django.urls import path

from shop import views

app_name = "shop"

urlpatterns = [
    path("", views.events, name="events"),
    path("events/<int:event_id>/checkout/", views.checkout, name="checkout"),
    path("orders/<str:code>/", views.confirmation, name="confirmation"),
    path("signin/", views.signin, name="signin"),
    path("signout/", views.signout, name="signout"),
    path("account/", views.account, name="account"),
    path("account/consent/", views.consent, name="consent"),
    path("account/export.json", views.export, name="export"),
    path("account/delete/", views.delete_account, name="delete"),
]
