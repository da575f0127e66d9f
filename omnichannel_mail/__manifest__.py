{
    "name": "Omnichannel CRM: Email",
    "summary": "Email conversations through Odoo's mail gateway",
    "version": "18.0.1.0.0",
    "category": "Sales/CRM",
    "license": "LGPL-3",
    "author": "Omnichannel CRM contributors",
    "website": "https://github.com/omnichannel-crm/omnichannel",
    "depends": ["omnichannel_base", "mail", "crm"],
    "data": [
        "security/omnichannel_mail_security.xml",
        "security/ir.model.access.csv",
        "data/mail_template_data.xml",
        "views/omnichannel_channel_views.xml",
        "views/omnichannel_mail_failure_views.xml",
    ],
    "demo": [
        "demo/omnichannel_mail_demo.xml",
        "demo/mail_canned_response_demo.xml",
    ],
    "assets": {"web.assets_tests": ["omnichannel_mail/static/tests/tours/**/*"]},
    "installable": True,
}
