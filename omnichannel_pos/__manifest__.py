{
    "name": "Omnichannel CRM: Point of Sale",
    "summary": "Customer context, phone search and store visits at the POS; POS orders on the timeline",
    "version": "18.0.1.1.0",
    "category": "Sales/CRM",
    "license": "LGPL-3",
    "author": "Omnichannel CRM contributors",
    "website": "https://github.com/omnichannel-crm/omnichannel",
    "depends": ["omnichannel_base", "point_of_sale"],
    "data": [
        "views/res_config_settings_views.xml",
    ],
    "demo": ["demo/omnichannel_pos_demo.xml"],
    "assets": {
        "point_of_sale._assets_pos": [
            "omnichannel_pos/static/src/**/*",
        ],
        "web.assets_tests": [
            "omnichannel_pos/static/tests/tours/**/*",
        ],
    },
    "installable": True,
}
