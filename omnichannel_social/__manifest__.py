{
    "name": "Omnichannel CRM: Messaging Apps",
    "summary": "WhatsApp, Messenger, Instagram, Telegram and SMS",
    "version": "18.0.1.0.0",
    "category": "Sales/CRM",
    "license": "LGPL-3",
    "author": "Omnichannel CRM contributors",
    "website": "https://github.com/omnichannel-crm/omnichannel",
    "depends": ["omnichannel_base"],
    "data": ["views/res_partner_views.xml"],
    "demo": ["demo/omnichannel_social_demo.xml"],
    "installable": True,
}
