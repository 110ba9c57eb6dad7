package io.pipefill.controlplane.cluster;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.util.Locale;
import java.util.Set;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.stereotype.Component;

/**
 * Which agent URLs the control plane will call. A worker names its own agent URL at registration, and the
 * control plane then sends that URL its calls (with the worker's agent token and model paths): without a
 * policy, registration is a way to make the control plane send requests anywhere (SSRF).
 *
 * <p>An agent URL is {@code http(s)://host:port} and nothing more (no user info, path, query or fragment:
 * routes are appended to it). Its host, and every address it resolves to, must not be the unspecified
 * address, a link-local address (169.254.0.0/16, fe80::/10: where cloud metadata services answer), a known
 * metadata address, multicast or broadcast, nor loopback unless {@code pipefill.agents.allow-loopback} is
 * true ({@code pipefill up}'s local workers listen on 127.0.0.1 and set it). A host name that does not resolve
 * yet is accepted (cluster DNS may lag a new pod) and checked again before every call.
 */
@Component
public class AgentUrlPolicy {
    /** Cloud metadata endpoints outside the link-local ranges (Alibaba, Azure's wire server, AWS over IPv6). */
    private static final Set<String> METADATA_ADDRESSES = Set.of("100.100.100.200", "168.63.129.16", "fd00:ec2:0:0:0:0:0:254");
    private static final Set<String> METADATA_NAMES = Set.of("metadata", "metadata.google.internal", "metadata.goog",
            "instance-data", "instance-data.ec2.internal");
    static final int MAX_LENGTH = 300;

    private final boolean allowLoopback;

    public AgentUrlPolicy(@Value("${pipefill.agents.allow-loopback:false}") boolean allowLoopback) {
        this.allowLoopback = allowLoopback;
    }

    public boolean allowsLoopback() {
        return allowLoopback;
    }

    /** Why this agent URL is refused, or null when it is acceptable. Resolves its host (blocking). */
    public String problem(String url) {
        if (url.length() > MAX_LENGTH) {
            return "must be at most " + MAX_LENGTH + " characters (got " + url.length() + ")";
        }
        URI u;
        try {
            u = new URI(url);
        } catch (URISyntaxException e) {
            return "must be http://host:port or https://host:port (got '" + url + "': " + e.getReason() + ")";
        }
        String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
            return "must be an absolute http:// or https:// URL with a host and port (got '" + url + "')";
        }
        if (u.getHost() == null || u.getRawUserInfo() != null) {
            return "must be http(s)://host:port with a host and no user info (got '" + url + "')";
        }
        if (u.getPort() < 1) {
            return "must name its port: http(s)://host:port (got '" + url + "')";
        }
        if (!u.getRawPath().isEmpty() || u.getRawQuery() != null || u.getRawFragment() != null) {
            return "must be http(s)://host:port with nothing after the port: no path, query or fragment (got '" + url + "')";
        }
        return addressProblem(u.getHost());
    }

    /** Why calls to this agent URL's host are refused now (the names it resolves to today), or null. */
    public String callProblem(String url) {
        try {
            return addressProblem(new URI(url).getHost());
        } catch (URISyntaxException | NullPointerException e) {
            return "agent URL '" + url + "' is not http(s)://host:port";
        }
    }

    private String addressProblem(String rawHost) {
        String host = rawHost.startsWith("[") ? rawHost.substring(1, rawHost.length() - 1) : rawHost;
        String name = host.toLowerCase(Locale.ROOT);
        if (name.endsWith(".")) {
            name = name.substring(0, name.length() - 1);
        }
        if (METADATA_NAMES.contains(name)) {
            return "host " + host + " is a cloud metadata service, never a worker";
        }
        if (!allowLoopback && (name.equals("localhost") || name.endsWith(".localhost"))) {
            return loopbackRefused(host);
        }
        InetAddress[] addresses;
        try {
            addresses = InetAddress.getAllByName(host);
        } catch (UnknownHostException e) {
            return null; // not resolvable yet: checked again before each call
        }
        for (InetAddress a : addresses) {
            String why = refused(a);
            if (why != null) {
                return "host " + host + (host.equals(a.getHostAddress()) ? "" : " resolves to " + a.getHostAddress() + ", which")
                        + " is " + why;
            }
        }
        return null;
    }

    private String refused(InetAddress a) {
        if (a.isAnyLocalAddress()) {
            return "the unspecified address";
        }
        if (a.isLoopbackAddress()) {
            return allowLoopback ? null : "loopback (allowed only with pipefill.agents.allow-loopback=true, as `pipefill up` sets)";
        }
        if (a.isLinkLocalAddress()) {
            return "link-local (169.254.0.0/16, fe80::/10: where cloud metadata services answer)";
        }
        if (a.isMulticastAddress() || a.getHostAddress().equals("255.255.255.255")) {
            return "multicast or broadcast";
        }
        String normal = a instanceof Inet6Address ? a.getHostAddress().replaceAll("%.*$", "") : a.getHostAddress();
        if (METADATA_ADDRESSES.contains(normal)) {
            return "a cloud metadata address";
        }
        return null;
    }

    private static String loopbackRefused(String host) {
        return "host " + host + " is loopback (allowed only with pipefill.agents.allow-loopback=true, as `pipefill up` sets)";
    }
}
