{
    "name": "Omnichannel CRM: Phone Calls",
    "summary": "Calls from Asterisk or Twilio on the customer timeline",
    "version": "18.0.1.0.0",
    "category": "Sales/CRM",
    "license": "LGPL-3",
    "author": "Omnichannel CRM contributors",
    "website": "https://github.com/omnichannel-crm/omnichannel",
    "depends": ["omnichannel_base"],
    "data": [],
    "demo": ["demo/omnichannel_voip_demo.xml"],
    "installable": True,
}
