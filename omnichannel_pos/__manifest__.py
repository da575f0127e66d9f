{
    "name": "Omnichannel CRM: Point of Sale",
    "summary": "Customer context and in-store visits at the POS",
    "version": "18.0.1.0.0",
    "category": "Sales/CRM",
    "license": "LGPL-3",
    "author": "Omnichannel CRM contributors",
    "website": "https://github.com/omnichannel-crm/omnichannel",
    "depends": ["omnichannel_base", "point_of_sale"],
    "data": [],
    "demo": ["demo/omnichannel_pos_demo.xml"],
    "installable": True,
}
