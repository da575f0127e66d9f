{
    "name": "Omnichannel CRM: Messaging Apps",
    "summary": "WhatsApp, Messenger, Instagram, Telegram and SMS",
    "version": "18.0.1.1.0",
    "category": "Sales/CRM",
    "license": "LGPL-3",
    "author": "Omnichannel CRM contributors",
    "website": "https://github.com/omnichannel-crm/omnichannel",
    "depends": ["omnichannel_base"],
    "data": [
        "security/ir.model.access.csv",
        "security/omnichannel_social_security.xml",
        "views/res_partner_views.xml",
        "views/omnichannel_whatsapp_views.xml",
    ],
    "external_dependencies": {"python": ["phonenumbers", "requests"]},
    "demo": ["demo/omnichannel_social_demo.xml"],
    "assets": {
        "web.assets_backend": ["omnichannel_social/static/src/**/*"],
        "web.assets_tests": ["omnichannel_social/static/tests/tours/**/*"],
    },
    "installable": True,
}
