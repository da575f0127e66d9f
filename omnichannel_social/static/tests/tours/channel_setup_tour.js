import { registry } from "@web/core/registry";

/**
 * An administrator connects the messaging apps, as omnichannel_social/tests/test_channel_ui.py
 * sets it up: the channels' provider URLs point at the test's local Bot API, Twilio and Graph
 * API servers, which know the credentials typed below.
 *
 * - Telegram: the bot token, Save (the Webhook URL appears), Test Connection (the bot's
 *   username), Set Webhook, and Test Connection again says the webhook is the channel's.
 * - SMS through Twilio: Account SID, Auth Token, sending number, Test Connection; then
 *   Settings > Send SMS > Send through: the new channel.
 * - Messenger: Page ID, Page token, App Secret, Test Connection names the Page.
 */
export const TELEGRAM_TOKEN = "123456789:AAE-fake-token-for-tests";

function openChannels() {
    return [
        {
            content: "Open the apps menu",
            trigger: ".o_navbar_apps_menu button",
            run: "click",
        },
        {
            content: "Open the Omnichannel app",
            trigger: ".o_app[data-menu-xmlid='omnichannel_base.menu_omnichannel_root']",
            run: "click",
        },
        {
            content: "Configuration",
            trigger: ".o_menu_sections button[data-menu-xmlid='omnichannel_base.menu_omnichannel_config']",
            run: "click",
        },
        {
            content: "Channels",
            trigger: ".dropdown-item[data-menu-xmlid='omnichannel_base.menu_omnichannel_channel']",
            run: "click",
        },
        {
            trigger: ".o_list_view .o_breadcrumb:contains('Channels')",
        },
    ];
}

/** A new channel of ``type`` named ``name``, its Connection tab open. */
function newChannel(name, type) {
    return [
        {
            content: "New channel",
            trigger: ".o_list_button_add",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_field_widget[name='name'] input",
            run: `edit ${name}`,
        },
        {
            content: `A ${type} channel`,
            trigger: ".o_field_widget[name='channel_type'] select",
            run: `select "${type}"`,
        },
        {
            content: "Its provider settings are in the Connection tab",
            trigger: ".o_notebook .nav-link[name='connection']",
            run: "click",
        },
        {
            content: "No webhook URL before the channel is saved: the form says so",
            trigger:
                ".o_form_view:has(.o_omnichannel_webhook_hint:contains('Save the channel')):not(:has(.o_field_widget[name='webhook_url']:contains('/omnichannel/webhook/')))",
        },
    ];
}

function save(provider) {
    return [
        {
            content: "Save",
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "The Webhook URL to give the provider, with a copy button",
            trigger: `.o_field_widget[name='webhook_url']:contains('/omnichannel/webhook/${provider}/'):has(button.o_clipboard_button)`,
        },
        {
            trigger: ".o_form_saved:not(:has(.o_omnichannel_webhook_hint))",
        },
    ];
}

function testConnection(notification) {
    return [
        {
            content: "Test the connection",
            trigger: "button[name='action_test_connection']",
            run: "click",
        },
        {
            content: "The provider answered",
            trigger: `.o_notification:has(.o_notification_bar.bg-success):contains('Connection works'):contains(${notification})`,
        },
        {
            trigger: `.o_notification:contains(${notification}) .o_notification_close`,
            run: "click",
        },
        {
            trigger: `body:not(:has(.o_notification:contains(${notification})))`,
        },
    ];
}

registry.category("web_tour.tours").add("omnichannel_channel_setup_telegram_tour", {
    url: "/odoo",
    steps: () => [
        ...openChannels(),
        ...newChannel("Telegram Tour", "telegram"),
        {
            content: "The bot token BotFather gave",
            trigger: ".o_field_widget[name='tg_bot_token'] input[type='password']",
            run: `edit ${TELEGRAM_TOKEN}`,
        },
        {
            content: "A webhook secret is ready, hidden",
            trigger: ".o_field_widget[name='tg_secret_token'] input[type='password']",
        },
        {
            content: "Set Webhook is there for Telegram channels",
            trigger: "button[name='action_set_telegram_webhook']",
        },
        ...save("telegram"),
        ...testConnection("'@TiendaBilbaoBot (Tienda Bilbao): no webhook set: use Set Webhook'"),
        {
            content: "The bot's username is shown",
            trigger: ".o_field_widget[name='tg_bot_username']:contains('TiendaBilbaoBot')",
        },
        {
            content: "Give Telegram the webhook",
            trigger: "button[name='action_set_telegram_webhook']",
            run: "click",
        },
        {
            trigger: ".o_notification:has(.o_notification_bar.bg-success):contains('Webhook set')",
        },
        ...testConnection("\"the webhook is this channel's\""),
    ],
});

registry.category("web_tour.tours").add("omnichannel_channel_setup_sms_tour", {
    url: "/odoo",
    steps: () => [
        ...openChannels(),
        ...newChannel("SMS Tour", "sms"),
        {
            content: "Twilio carries SMS channels",
            trigger: ".o_field_widget[name='provider'] select:has(option:selected:contains('Twilio'))",
        },
        {
            trigger: ".o_field_widget[name='twilio_account_sid'] input",
            run: "edit AC0a1b2c3d0a1b2c3d0a1b2c3d0a1b2c3d",
        },
        {
            trigger: ".o_field_widget[name='twilio_auth_token'] input[type='password']",
            run: "edit twilio-auth-token-for-tests",
        },
        {
            trigger: ".o_field_widget[name='twilio_from_number'] input",
            run: "edit +34910000001",
        },
        ...save("twilio"),
        ...testConnection("'Twilio account Tienda Bilbao (active). +34910000001 belongs to it.'"),
        {
            content: "SMS channels answer the carriers' keywords",
            trigger: ".o_notebook .nav-link[name='consent']",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name='opt_out_keywords'] input:value('STOPALL')",
        },
        // Settings: Odoo's SMS go through the channel.
        {
            content: "Open the apps menu",
            trigger: ".o_navbar_apps_menu button",
            run: "click",
        },
        {
            content: "Open Settings",
            trigger: ".o_app[data-menu-xmlid='base.menu_administration']",
            run: "click",
        },
        {
            trigger: ".o_settings_container #sms",
        },
        {
            content: "Send SMS: through the SMS channel",
            trigger: "#sms .o_field_widget[name='omni_sms_channel_id'] input",
            run: "edit SMS Tour",
        },
        {
            trigger: ".o-autocomplete--dropdown-item:contains('SMS Tour')",
            run: "click",
        },
        {
            trigger: "#sms .o_field_widget[name='omni_sms_channel_id'] input:value('SMS Tour')",
        },
        {
            content: "Unsaved changes",
            trigger: ".o_control_panel .o_dirty_warning",
            run() {
                document.body.classList.add("o_omni_tour_before_save"); // gone once the page reloads
            },
        },
        {
            content: "Save the settings",
            trigger: ".o_control_panel .o_form_button_save",
            run: "click",
        },
        {
            content: "Saved: the page reloaded with the channel chosen",
            trigger:
                "body:not(.o_omni_tour_before_save) #sms .o_field_widget[name='omni_sms_channel_id'] input:value('SMS Tour')",
        },
        {
            trigger: ".o_control_panel:not(:has(.o_dirty_warning))",
        },
    ],
});

registry.category("web_tour.tours").add("omnichannel_channel_setup_messenger_tour", {
    url: "/odoo",
    steps: () => [
        ...openChannels(),
        ...newChannel("Messenger Tour", "messenger"),
        {
            content: "Messenger asks for the Facebook Page's ID",
            trigger: ".o_form_view label:contains('Facebook Page ID')",
        },
        {
            trigger: ".o_field_widget[name='meta_page_id'] input",
            run: "edit 104000000000001",
        },
        {
            trigger: ".o_field_widget[name='meta_page_access_token'] input[type='password']",
            run: "edit EAAPage-token-for-tests",
        },
        {
            trigger: ".o_field_widget[name='meta_app_secret'] input[type='password']",
            run: "edit meta-app-secret-for-tests",
        },
        {
            content: "The Verify Token to type in Meta's webhook settings, with a copy button",
            trigger: ".o_field_widget[name='meta_verify_token']:has(button.o_clipboard_button)",
        },
        ...save("messenger"),
        ...testConnection("'Connected to Tienda Bilbao (104000000000001).'"),
        {
            content: "The Page's name is shown",
            trigger: ".o_field_widget[name='meta_account_name']:contains('Tienda Bilbao')",
        },
    ],
});
