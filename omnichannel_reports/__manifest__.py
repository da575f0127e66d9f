{
    "name": "Omnichannel CRM: Reports",
    "summary": "Channel mix and conversation KPIs across every channel",
    "version": "18.0.1.0.0",
    "category": "Sales/CRM",
    "license": "LGPL-3",
    "author": "Omnichannel CRM contributors",
    "website": "https://github.com/omnichannel-crm/omnichannel",
    "depends": ["omnichannel_base"],
    "data": ["views/omnichannel_reports_views.xml"],
    "installable": True,
}
