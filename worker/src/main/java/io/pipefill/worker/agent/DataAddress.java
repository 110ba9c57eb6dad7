package io.pipefill.worker.agent;

import io.pipefill.model.agent.DataEndpoint;

/** A {@code host:port} the peers dial ({@code --data-advertise}); an IPv6 host in brackets, {@code [::1]:7000}. */
final class DataAddress {
    private DataAddress() {
    }

    static DataEndpoint parse(String s) {
        int colon = s.lastIndexOf(':');
        if (colon <= 0 || colon == s.length() - 1) {
            throw new IllegalArgumentException("--data-advertise " + s + ": expected host:port");
        }
        String host = s.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(s.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--data-advertise " + s + ": the port is not a number");
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("--data-advertise " + s + ": the port must be in [1, 65535]");
        }
        return new DataEndpoint(host, port);
    }
}
