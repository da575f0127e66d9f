import {
    deserializeDate,
    deserializeDateTime,
    formatDate,
    formatDateTime,
} from "@web/core/l10n/dates";
import { ConnectionLostError, RPCError } from "@web/core/network/rpc";
import { _t } from "@web/core/l10n/translation";

/** Whether a failed call failed because the POS cannot reach the server. */
export function isConnectionLost(pos, error) {
    return pos.data.network.offline || error instanceof ConnectionLostError;
}

const REFUSALS = new Set([
    "odoo.exceptions.AccessError",
    "odoo.exceptions.UserError",
    "odoo.exceptions.ValidationError",
    "odoo.exceptions.MissingError",
]);

/** Whether the server refused a call on purpose (access, bad values), rather than failed. */
export function isRefusal(error) {
    return error instanceof RPCError && REFUSALS.has(error.exceptionName);
}

/**
 * A message for the cashier about a failed call: the server's own words for the errors it
 * raises on purpose (access, bad values), a short generic sentence for anything else.
 */
export function readableError(error, fallback) {
    if (isRefusal(error) && error.data?.message) {
        return error.data.message;
    }
    return fallback || _t("Something went wrong. Try again in a moment.");
}

/** A server date ("YYYY-MM-DD" or "YYYY-MM-DD HH:MM:SS", UTC) in the cashier's format and zone. */
export function formatServerDate(value) {
    if (!value) {
        return "";
    }
    try {
        if (value.length <= 10) {
            return formatDate(deserializeDate(value));
        }
        return formatDateTime(deserializeDateTime(value), { showSeconds: false });
    } catch {
        return value;
    }
}
