{
    "name": "Omnichannel CRM: Reports",
    "summary": "Channel mix and conversation KPIs across every channel",
    "version": "18.0.1.0.0",
    "category": "Sales/CRM",
    "license": "LGPL-3",
    "author": "Omnichannel CRM contributors",
    "website": "https://github.com/omnichannel-crm/omnichannel",
    "depends": ["omnichannel_base", "resource"],
    "data": [
        "data/omnichannel_conversation_cron.xml",
        "views/omnichannel_reports_views.xml",
        "views/omnichannel_team_views.xml",
        "views/res_config_settings_views.xml",
        "views/omnichannel_conversation_views.xml",
    ],
    "post_init_hook": "post_init_hook",
    "installable": True,
}
