from . import (
    test_ari_client,
    test_ari_events,
    test_ari_fake,
    test_ari_listener,
    test_ari_robustness,
    test_asterisk_provider,
    test_call_core,
    test_call_rules,
    test_channel,
    test_twilio_voice,
    test_twilio_voice_fuzz,
    test_voip_ui,
)
