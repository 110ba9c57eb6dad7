package io.pipefill.model.plan;

/** A layout the planner ruled out, and why (with the numbers). */
public record Rejection(int pp, int tp, String reason) {
    public String layout() {
        return "PP" + pp + "×TP" + tp;
    }
}
