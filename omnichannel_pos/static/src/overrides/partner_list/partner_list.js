import { useEffect, useState } from "@odoo/owl";
import { patch } from "@web/core/utils/patch";
import { useDebounced } from "@web/core/utils/timing";
import { PartnerList } from "@point_of_sale/app/screens/partner_list/partner_list";
import { PartnerLine } from "@point_of_sale/app/screens/partner_list/partner_line/partner_line";

const OMNI_PHONE_FIELD = "omni_phone_search";
const PHONE_CHARACTERS = /^[+\d\s().\-/]+$/;
const PHONE_MIN_DIGITS = 6;
const PHONE_MATCH_LIMIT = 10;
const PHONE_LOOKUP_DELAY = 300; // ms after the last key: one lookup per number, not per digit

/** Whether what the cashier typed reads as a phone number, in whatever format. */
export function looksLikePhone(query) {
    return PHONE_CHARACTERS.test(query) && query.replace(/\D/g, "").length >= PHONE_MIN_DIGITS;
}

function withOmniPhoneSearch(terms) {
    return terms.includes(OMNI_PHONE_FIELD) ? terms : [...terms, OMNI_PHONE_FIELD];
}

patch(PartnerLine, {
    props: [...PartnerLine.props, "omniPhoneMatch?"],
});

patch(PartnerList.prototype, {
    setup() {
        super.setup(...arguments);
        // pos_sms replaces getPhoneSearchTerms without calling super: whichever of the two
        // modules loads last, "Search more" keeps asking the identity lookup.
        const getPhoneSearchTerms = this.getPhoneSearchTerms;
        this.getPhoneSearchTerms = (...args) =>
            withOmniPhoneSearch(getPhoneSearchTerms.call(this, ...args));
        // Customers the identity lookup found for the phone typed (query: the phone they are for).
        this.omniPhone = useState({ query: "", ids: [] });
        this.omniPhoneRequest = 0;
        const lookUpPhoneSoon = useDebounced(this.omniLookUpPhone, PHONE_LOOKUP_DELAY);
        useEffect(
            (query) => {
                lookUpPhoneSoon(query);
            },
            () => [this.state.query]
        );
    },

    /** "Search more" also asks the identity lookup, which reads any phone format. */
    getPhoneSearchTerms() {
        return withOmniPhoneSearch(super.getPhoneSearchTerms(...arguments));
    },

    get omniPhoneMatchIds() {
        const query = (this.state.query || "").trim();
        return new Set(query && query === this.omniPhone.query ? this.omniPhone.ids : []);
    },

    /** Customers found by phone come first, whatever the list's own filter makes of the query. */
    getPartners() {
        const partners = super.getPartners(...arguments);
        const matchIds = this.omniPhoneMatchIds;
        if (!matchIds.size) {
            return partners;
        }
        const matches = [...matchIds]
            .map((id) => this.pos.models["res.partner"].get(id))
            .filter(Boolean);
        return [...matches, ...partners.filter((partner) => !matchIds.has(partner.id))];
    },

    /**
     * Looks a phone-like query up on the server as soon as it is typed. Best effort: offline or
     * failing, the list simply shows what it found by itself.
     */
    async omniLookUpPhone(query) {
        const request = ++this.omniPhoneRequest;
        const phone = (query || "").trim();
        if (!looksLikePhone(phone) || this.pos.data.network.offline) {
            this.omniPhone.query = "";
            this.omniPhone.ids = [];
            return;
        }
        try {
            const partners = await this.pos.data.searchRead(
                "res.partner",
                [[OMNI_PHONE_FIELD, "=", phone]],
                [],
                { limit: PHONE_MATCH_LIMIT }
            );
            if (request === this.omniPhoneRequest) {
                this.omniPhone.query = phone;
                this.omniPhone.ids = (partners || []).map((partner) => partner.id);
            }
        } catch (error) {
            console.warn("omnichannel_pos: phone lookup failed", error);
        }
    },
});
