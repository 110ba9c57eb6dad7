package io.pipefill.e2e.support;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP proxy on 127.0.0.1 between two ranks' data ports: it forwards both ways, can slow every forwarded block
 * down, and can cut the link (every connection through it reset, new ones refused). The fault injector of
 * LinkFaultTest.
 */
public final class TcpProxy implements AutoCloseable {
    private final ServerSocket server;
    private final InetSocketAddress target;
    private final List<Socket> open = new CopyOnWriteArrayList<>();
    private final AtomicLong forwarded = new AtomicLong();
    private volatile long delayMsPerBlock;
    private volatile boolean cut;

    public TcpProxy(int listenPort, InetSocketAddress target) throws IOException {
        this.server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), listenPort));
        this.target = target;
        Thread acceptor = new Thread(this::accept, "proxy-" + listenPort);
        acceptor.setDaemon(true);
        acceptor.start();
    }

    public int port() {
        return server.getLocalPort();
    }

    /** Where it forwards to. */
    public int targetPort() {
        return target.getPort();
    }

    /** Bytes forwarded so far, both ways. */
    public long forwarded() {
        return forwarded.get();
    }

    /** Every block (at most 16 KiB) waits this long before it is forwarded. */
    public void slow(long msPerBlock) {
        this.delayMsPerBlock = msPerBlock;
    }

    /** Resets every connection through the proxy and refuses new ones until {@link #restore}. */
    public void cut() {
        cut = true;
        for (Socket s : open) {
            try {
                s.setSoLinger(true, 0); // RST, as a dropped link or a killed middlebox looks to the ranks
                s.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }

    public void restore() {
        cut = false;
        delayMsPerBlock = 0;
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket in = server.accept();
                if (cut) {
                    in.setSoLinger(true, 0);
                    in.close();
                    continue;
                }
                Socket out = new Socket();
                out.connect(target, 5000);
                open.add(in);
                open.add(out);
                pipe(in, out);
                pipe(out, in);
            } catch (IOException e) {
                // the server closed, or one connection failed: the rank sees that as a failed link
            }
        }
    }

    private void pipe(Socket from, Socket to) {
        Thread t = new Thread(() -> {
            byte[] block = new byte[16 * 1024];
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                for (int n; (n = in.read(block)) >= 0; ) {
                    long delay = delayMsPerBlock;
                    if (delay > 0) {
                        Thread.sleep(delay);
                    }
                    out.write(block, 0, n);
                    out.flush();
                    forwarded.addAndGet(n);
                }
            } catch (IOException | InterruptedException e) {
                // one side ended: end the other
            } finally {
                try {
                    to.close();
                    from.close();
                } catch (IOException ignored) {
                    // closed
                }
                open.remove(from);
                open.remove(to);
            }
        }, "proxy-pipe");
        t.setDaemon(true);
        t.start();
    }

    @Override
    public void close() throws IOException {
        server.close();
        cut();
    }
}
