from odoo.tests import TransactionCase


class OmnichannelCase(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.company = cls.env.company
        cls.company.country_id = cls.env.ref("base.es")
        cls.agent = cls.env["res.users"].create(
            {
                "name": "Ana Agente",
                "login": "ana.agente",
                "email": "ana@example.com",
                "groups_id": [(6, 0, [cls.env.ref("omnichannel_base.group_omnichannel_user").id])],
            }
        )
        cls.team = cls.env["omnichannel.team"].create({"name": "Care", "member_ids": [(6, 0, cls.agent.ids)]})
        cls.channel = cls.env["omnichannel.channel"].create(
            {"name": "Test app", "channel_type": "api", "team_id": cls.team.id}
        )
        cls.ingest = cls.env["omnichannel.ingest"]

    @classmethod
    def event(cls, **values):
        values.setdefault("channel_id", cls.channel.id)
        values.setdefault("body", "Hola")
        return values
