package io.pipefill.model.agent;

/** Where a rank accepts its peers' activation connections for one run. */
public record DataEndpoint(String host, int port) {
}
