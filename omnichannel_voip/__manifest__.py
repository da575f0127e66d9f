{
    "name": "Omnichannel CRM: Phone Calls",
    "summary": "Calls from Asterisk (ARI) or Twilio Voice on the customer timeline: screen pop, click-to-dial, "
    "missed-call follow-up",
    "version": "18.0.1.1.0",
    "category": "Sales/CRM",
    "license": "LGPL-3",
    "author": "Omnichannel CRM contributors",
    "website": "https://github.com/omnichannel-crm/omnichannel",
    "depends": ["omnichannel_base"],
    "external_dependencies": {"python": ["websocket-client", "requests", "phonenumbers"]},
    "data": [
        "security/ir.model.access.csv",
        "security/omnichannel_voip_security.xml",
        "data/omnichannel_voip_data.xml",
        "views/omnichannel_call_views.xml",
        "views/omnichannel_channel_views.xml",
        "views/res_users_views.xml",
        "views/omnichannel_asterisk_views.xml",
        "views/omnichannel_twilio_voice_views.xml",
        "views/omnichannel_dial_views.xml",
    ],
    "demo": ["demo/omnichannel_voip_demo.xml"],
    "assets": {
        "web.assets_backend": [
            "omnichannel_voip/static/src/**/*",
        ],
        "web.assets_tests": [
            "omnichannel_voip/static/tests/tours/**/*",
        ],
    },
    "installable": True,
}
