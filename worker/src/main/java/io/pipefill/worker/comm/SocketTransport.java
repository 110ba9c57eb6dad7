package io.pipefill.worker.comm;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.IntFunction;

/**
 * The transport over TCP sockets: one connection per pair of ranks (the higher rank connects to the
 * lower), a writer thread per connection that drains posted sends in order, and a reader thread that
 * routes each frame into its (peer, channel) mailbox, where receives are matched FIFO. Frames are
 * {@code magic, channel, float count, floats (little-endian)}, or for a control message {@code message magic,
 * channel, byte count (at most 1 MiB), bytes}; a wrong magic, an unknown channel, a frame larger than the run
 * can send ({@link Admission#maxFrameFloats}) or a size that disagrees with the posted receive is an error
 * naming the peer.
 *
 * <p>A data port admits only the run's own ranks ({@link Admission}): the accepting rank sends a random
 * challenge, the connecting rank answers with its rank, its own challenge and an HMAC of both under the run's
 * {@link RunSecret}, and the accepting rank proves the secret back. A connection that fails the handshake (a
 * stray HTTP request, a wrong secret, a rank that is not expected or comes from another address than the run
 * gave for it, silence past the handshake timeout) is closed and logged, and the port goes on waiting for the
 * real peer: a stranger cannot fail the run, nor take a rank's place.
 */
public final class SocketTransport implements Transport {
    private static final int MAGIC = 0x50504631; // "PPF1"
    /** The handshake's frames: {@code magic, challenge} from the acceptor; {@code magic, rank, challenge, proof} back. */
    private static final int HANDSHAKE_MAGIC = 0x50504831; // "PPH1"
    /** The longest a connection may take to complete the handshake before it is dropped as a stranger. */
    private static final int HANDSHAKE_MILLIS = 5_000;
    private static final String CONNECT_PROOF = "pipefill data port v1: connecting rank";
    private static final String ACCEPT_PROOF = "pipefill data port v1: accepting rank";
    /** A control-message frame: {@code magic, channel, byte count, bytes}. */
    private static final int MESSAGE_MAGIC = 0x50504D31; // "PPM1"
    /** Control messages are small records; a larger frame is a corrupt or hostile stream. */
    private static final int MAX_MESSAGE_BYTES = 1 << 20;
    private static final int[] CHANNELS = {CHANNEL_HIDDEN, CHANNEL_TOKEN, CHANNEL_ALL_REDUCE, CHANNEL_BROADCAST};
    private static final int[] MESSAGE_CHANNELS = {CHANNEL_CONTROL};

    private final int rank;
    private final int worldSize;
    private final Duration timeout;
    private final IntFunction<String> describe;
    private final int maxFrameFloats;
    private final Map<Integer, Connection> connections = new ConcurrentHashMap<>();
    private volatile boolean closing;

    private SocketTransport(int rank, int worldSize, Duration timeout, IntFunction<String> describe, int maxFrameFloats) {
        this.rank = rank;
        this.worldSize = worldSize;
        this.timeout = timeout;
        this.describe = describe;
        this.maxFrameFloats = maxFrameFloats;
    }

    /**
     * Who a rank's data port admits and what they may send.
     *
     * @param secret           the run's secret, which every peer must prove at the handshake
     * @param maxFrameFloats   the largest float frame the run sends (its largest chunk's hidden states): a
     *                         frame header claiming more is refused before anything is allocated for it
     * @param checkPeerAddress whether a connecting rank must come from the address the run gave for it
     *                         (loopback addresses count as one host)
     */
    public record Admission(RunSecret secret, int maxFrameFloats, boolean checkPeerAddress) {
        public Admission {
            if (secret == null) {
                throw new IllegalArgumentException("a data port needs the run's secret");
            }
            if (maxFrameFloats < 1) {
                throw new IllegalArgumentException("the largest frame must be at least 1 float, got " + maxFrameFloats);
            }
        }

        /** The run's secret and frame bound, with the peer-address check on unless {@code pipefill.data.check-peer-address=false}. */
        public static Admission of(RunSecret secret, int maxFrameFloats) {
            return new Admission(secret, maxFrameFloats,
                    !"false".equalsIgnoreCase(System.getProperty("pipefill.data.check-peer-address")));
        }
    }

    /**
     * Connects this rank to every other: accepts the higher ranks on {@code listener}, connects to the lower
     * ones at {@code addresses}, each pair proving {@code admission}'s secret. Fails naming the ranks that did not
     * connect within {@code connectTimeout} (and what the port refused meanwhile).
     */
    public static SocketTransport connect(int rank, ServerSocket listener, List<InetSocketAddress> addresses,
                                          Duration connectTimeout, Duration timeout, IntFunction<String> describe,
                                          Admission admission) {
        SocketTransport t = new SocketTransport(rank, addresses.size(), timeout, describe, admission.maxFrameFloats());
        try {
            long deadline = System.nanoTime() + connectTimeout.toNanos();
            for (int peer = 0; peer < rank; peer++) {
                Socket s = connectWithRetry(addresses.get(peer), deadline, describe.apply(peer));
                try {
                    t.proveTo(s, peer, addresses.get(peer), admission.secret(), deadline);
                } catch (IOException | RuntimeException e) {
                    s.close();
                    throw e;
                }
                t.start(peer, s);
            }
            int expected = addresses.size() - 1 - rank;
            List<String> refused = new ArrayList<>();
            for (int accepted = 0; accepted < expected; ) {
                long left = Math.max(1, (deadline - System.nanoTime()) / 1_000_000);
                listener.setSoTimeout((int) Math.min(Integer.MAX_VALUE, left));
                Socket s;
                try {
                    s = listener.accept();
                } catch (SocketTimeoutException e) {
                    StringBuilder missing = new StringBuilder();
                    for (int p = rank + 1; p < addresses.size(); p++) {
                        if (!t.connections.containsKey(p)) {
                            missing.append(missing.length() == 0 ? "" : ", ").append(describe.apply(p));
                        }
                    }
                    throw new TransportException(missing + " never connected to " + describe.apply(rank) + " within "
                            + connectTimeout.toSeconds() + " s" + (refused.isEmpty() ? ""
                            : " (refused meanwhile: " + String.join("; ", refused) + ")"));
                }
                try {
                    int peer = t.admit(s, addresses, admission, deadline);
                    t.start(peer, s);
                    accepted++;
                } catch (Refused r) {
                    s.close();
                    String why = "a connection from " + s.getRemoteSocketAddress() + ": " + r.getMessage();
                    System.err.println("pipefill: the data port of " + describe.apply(rank) + " refused " + why);
                    if (refused.size() < 8) {
                        refused.add(why);
                    }
                }
            }
            return t;
        } catch (IOException e) {
            t.close();
            throw new TransportException("connecting " + describe.apply(rank) + " to its peers failed: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    /** A connection the data port turned away; the port keeps waiting for the real peer. */
    private static final class Refused extends Exception {
        Refused(String message) {
            super(message);
        }
    }

    /**
     * The accepting side of the handshake: challenge, then the connecting rank's claim and proof, checked before
     * anything else is read; answers with this side's proof. Returns the admitted peer's rank.
     */
    private int admit(Socket s, List<InetSocketAddress> addresses, Admission admission, long deadline) throws Refused {
        try {
            s.setSoTimeout(handshakeMillis(deadline));
            // each handshake message leaves in one segment, at once: with Nagle's algorithm on, a message written in
            // pieces waits for the peer's delayed ACK (40 ms on Linux) on every run's connection
            s.setTcpNoDelay(true);
            DataOutputStream out = new DataOutputStream(new BufferedOutputStream(s.getOutputStream(), 256));
            DataInputStream in = new DataInputStream(s.getInputStream());
            byte[] mine = RunSecret.challenge();
            out.writeInt(HANDSHAKE_MAGIC);
            out.write(mine);
            out.flush();
            int magic = in.readInt();
            if (magic != HANDSHAKE_MAGIC) {
                throw new Refused(String.format("not a pipefill rank (it opened with %08x)", magic));
            }
            int peer = in.readInt();
            if (peer <= rank || peer >= addresses.size()) {
                throw new Refused("it claims rank " + peer + ", and only ranks " + (rank + 1) + ".." + (addresses.size() - 1)
                        + " connect to " + describe.apply(rank));
            }
            if (connections.containsKey(peer)) {
                throw new Refused("it claims " + describe.apply(peer) + ", which is already connected");
            }
            if (admission.checkPeerAddress() && !sameHost(s.getInetAddress(), addresses.get(peer))) {
                throw new Refused("it claims " + describe.apply(peer) + ", which the run placed at "
                        + addresses.get(peer).getHostString());
            }
            byte[] theirs = new byte[RunSecret.BYTES];
            byte[] proof = new byte[RunSecret.BYTES];
            in.readFully(theirs);
            in.readFully(proof);
            if (!RunSecret.same(proof, admission.secret().proof(CONNECT_PROOF, rank, peer, mine, theirs))) {
                throw new Refused("it claims " + describe.apply(peer) + " without the run's secret");
            }
            out.write(admission.secret().proof(ACCEPT_PROOF, rank, peer, mine, theirs));
            out.flush();
            s.setSoTimeout(0);
            return peer;
        } catch (SocketTimeoutException e) {
            throw new Refused("it did not complete the handshake within " + HANDSHAKE_MILLIS + " ms");
        } catch (IOException e) {
            throw new Refused("the handshake failed: " + e.getMessage());
        }
    }

    /** The connecting side: answers the challenge with this rank's proof, then checks the accepting rank's. */
    private void proveTo(Socket s, int peer, InetSocketAddress address, RunSecret secret, long deadline) throws IOException {
        String who = describe.apply(peer) + " at " + address;
        try {
            s.setSoTimeout(Math.max(1, (int) Math.min(Integer.MAX_VALUE, (deadline - System.nanoTime()) / 1_000_000)));
            DataInputStream in = new DataInputStream(s.getInputStream());
            DataOutputStream out = new DataOutputStream(new BufferedOutputStream(s.getOutputStream(), 256));
            if (in.readInt() != HANDSHAKE_MAGIC) {
                throw new TransportException(who + " is not a pipefill data port");
            }
            byte[] theirs = new byte[RunSecret.BYTES];
            in.readFully(theirs);
            byte[] mine = RunSecret.challenge();
            out.writeInt(HANDSHAKE_MAGIC);
            out.writeInt(rank);
            out.write(mine);
            out.write(secret.proof(CONNECT_PROOF, peer, rank, theirs, mine));
            out.flush();
            byte[] proof = new byte[RunSecret.BYTES];
            in.readFully(proof);
            if (!RunSecret.same(proof, secret.proof(ACCEPT_PROOF, peer, rank, theirs, mine))) {
                throw new TransportException(who + " did not prove the run's secret: it is not this run's rank");
            }
            s.setSoTimeout(0);
        } catch (EOFException e) {
            throw new TransportException(who + " refused the handshake of " + describe.apply(rank)
                    + " (not the same run's secret, or not the address it expects this rank at)");
        } catch (SocketTimeoutException e) {
            throw new TransportException(who + " accepted but never completed the handshake of " + describe.apply(rank));
        }
    }

    private static int handshakeMillis(long deadline) {
        long left = (deadline - System.nanoTime()) / 1_000_000;
        return (int) Math.max(1, Math.min(HANDSHAKE_MILLIS, left));
    }

    /** Whether {@code actual} is one of the addresses {@code expected} names; loopback addresses are one host. */
    static boolean sameHost(InetAddress actual, InetSocketAddress expected) {
        try {
            InetAddress[] candidates = expected.getAddress() != null ? new InetAddress[] {expected.getAddress()}
                    : InetAddress.getAllByName(expected.getHostString());
            for (InetAddress a : candidates) {
                if (a.equals(actual) || (a.isLoopbackAddress() && actual.isLoopbackAddress())) {
                    return true;
                }
            }
            return false;
        } catch (UnknownHostException e) {
            return false;
        }
    }

    private static Socket connectWithRetry(InetSocketAddress address, long deadline, String who) throws IOException {
        IOException last = null;
        while (System.nanoTime() < deadline) {
            Socket s = new Socket();
            try {
                s.connect(address, 2000);
                s.setTcpNoDelay(true);
                return s;
            } catch (IOException e) {
                last = e;
                s.close();
                try {
                    Thread.sleep(50);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted", ie);
                }
            }
        }
        throw new TransportException(who + " at " + address + " did not accept a connection: "
                + (last == null ? "timed out" : last.getMessage()));
    }

    private void start(int peer, Socket socket) throws IOException {
        socket.setTcpNoDelay(true);
        Connection c = new Connection(peer, socket);
        connections.put(peer, c);
        c.startThreads();
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int worldSize() {
        return worldSize;
    }

    private Connection connection(int peer) {
        Connection c = connections.get(peer);
        if (c == null) {
            throw new TransportException(describe.apply(rank) + " has no connection to rank " + peer
                    + " (world of " + worldSize + ")");
        }
        return c;
    }

    @Override
    public Handle isend(int peer, int channel, float[] data, int length) {
        if (length > maxFrameFloats) {
            throw new IllegalArgumentException("a frame of " + length + " floats is over this run's limit of "
                    + maxFrameFloats + " (its largest chunk's hidden states)");
        }
        Handle h = new Handle("send to " + describe.apply(peer) + " on channel " + channel, timeout);
        connection(peer).send(new Outgoing(channel, data, length, null, h));
        return h;
    }

    @Override
    public Handle irecv(int peer, int channel, float[] into, int length) {
        Handle h = new Handle("receive from " + describe.apply(peer) + " on channel " + channel, timeout);
        connection(peer).mailbox(channel).post(h, into, length);
        return h;
    }

    @Override
    public void sendMessage(int peer, int channel, byte[] message) {
        if (message.length > MAX_MESSAGE_BYTES) {
            throw new IllegalArgumentException("a control message of " + message.length + " bytes is over the "
                    + MAX_MESSAGE_BYTES + "-byte limit");
        }
        Handle h = new Handle("control message to " + describe.apply(peer) + " on channel " + channel, timeout);
        Connection c = connection(peer);
        c.messageBox(channel); // refuses an unknown channel here, not in the writer
        c.send(new Outgoing(channel, null, 0, message, h));
        h.await();
    }

    @Override
    public byte[] receiveMessage(int peer, int channel) {
        return connection(peer).messageBox(channel).take(timeout);
    }

    @Override
    public void close() {
        closing = true;
        connections.values().forEach(Connection::close);
    }

    /** A float frame ({@code data[0, length)}) or, with {@code message} set, a control-message frame. */
    private record Outgoing(int channel, float[] data, int length, byte[] message, Handle handle) {
    }

    /** One peer: its socket, the writer and reader threads, and a mailbox per channel. */
    private final class Connection {
        private final int peer;
        private final Socket socket;
        private final LinkedBlockingQueue<Outgoing> queue = new LinkedBlockingQueue<>();
        private final Map<Integer, Mailbox> mailboxes = new ConcurrentHashMap<>();
        private final Map<Integer, MessageBox> messageBoxes = new ConcurrentHashMap<>();
        private volatile TransportException failure;
        private Thread writer;
        private Thread reader;

        Connection(int peer, Socket socket) {
            this.peer = peer;
            this.socket = socket;
            for (int ch : CHANNELS) {
                mailboxes.put(ch, new Mailbox("from " + describe.apply(peer) + " on channel " + ch));
            }
            for (int ch : MESSAGE_CHANNELS) {
                messageBoxes.put(ch, new MessageBox("from " + describe.apply(peer) + " on channel " + ch));
            }
        }

        MessageBox messageBox(int channel) {
            MessageBox m = messageBoxes.get(channel);
            if (m == null) {
                throw new TransportException("unknown control-message channel " + channel);
            }
            return m;
        }

        void startThreads() {
            writer = new Thread(this::writeLoop, "send-to-rank-" + peer);
            reader = new Thread(this::readLoop, "recv-from-rank-" + peer);
            writer.setDaemon(true);
            reader.setDaemon(true);
            writer.start();
            reader.start();
        }

        Mailbox mailbox(int channel) {
            Mailbox m = mailboxes.get(channel);
            if (m == null) {
                throw new TransportException("unknown channel " + channel);
            }
            return m;
        }

        void send(Outgoing o) {
            TransportException f = failure;
            if (f != null) {
                o.handle().fail(f);
                return;
            }
            queue.add(o);
        }

        private void writeLoop() {
            try (DataOutputStream out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream(), 1 << 20))) {
                ByteBuffer bytes = ByteBuffer.allocate(0);
                while (true) {
                    Outgoing o = queue.take();
                    if (o.message() != null) {
                        out.writeInt(MESSAGE_MAGIC);
                        out.writeInt(o.channel());
                        out.writeInt(o.message().length);
                        out.write(o.message());
                        if (queue.isEmpty()) {
                            out.flush();
                        }
                        o.handle().complete();
                        continue;
                    }
                    int n = o.length() * Float.BYTES;
                    if (bytes.capacity() < n) {
                        bytes = ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
                    }
                    bytes.clear();
                    bytes.asFloatBuffer().put(o.data(), 0, o.length());
                    out.writeInt(MAGIC);
                    out.writeInt(o.channel());
                    out.writeInt(o.length());
                    out.write(bytes.array(), 0, n);
                    if (queue.isEmpty()) {
                        out.flush();
                    }
                    o.handle().complete();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (IOException e) {
                fail("sending failed: " + e.getMessage());
            }
        }

        private void readLoop() {
            try (DataInputStream in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 1 << 20))) {
                byte[] bytes = new byte[0];
                while (true) {
                    int magic = in.readInt();
                    if (magic == MESSAGE_MAGIC) {
                        readMessage(in);
                        continue;
                    }
                    if (magic != MAGIC) {
                        throw new TransportException(String.format("corrupt stream from %s: frame magic %08x",
                                describe.apply(peer), magic));
                    }
                    int channel = in.readInt();
                    int length = in.readInt();
                    if (!mailboxes.containsKey(channel)) {
                        throw new TransportException("message with unknown channel " + channel + " from " + describe.apply(peer));
                    }
                    if (length < 0 || length > maxFrameFloats) {
                        // checked before anything is allocated for it: a header alone cannot make this rank grow
                        throw new TransportException("message of " + length + " floats from " + describe.apply(peer)
                                + " is outside [0, " + maxFrameFloats + "], the run's largest frame");
                    }
                    int n = length * Float.BYTES;
                    if (bytes.length < n) {
                        bytes = new byte[n];
                    }
                    in.readFully(bytes, 0, n);
                    var floats = ByteBuffer.wrap(bytes, 0, n).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
                    Mailbox box = mailboxes.get(channel);
                    // receives are posted ahead (the stage loop does): decode straight into the waiting buffer
                    Mailbox.Receive waiting = box.takePosted();
                    if (waiting == null) {
                        float[] msg = new float[length];
                        floats.get(msg);
                        box.arrive(msg);
                    } else if (waiting.length() != length) {
                        waiting.fail(box.name(), length);
                    } else {
                        floats.get(waiting.into(), 0, length);
                        waiting.handle().complete();
                    }
                }
            } catch (EOFException e) {
                fail("connection closed by the peer");
            } catch (IOException e) {
                fail(e.getMessage());
            } catch (TransportException e) {
                failWith(e);
            }
        }

        /** A control-message frame after its magic: channel, byte count (bounded), bytes. */
        private void readMessage(DataInputStream in) throws IOException {
            int channel = in.readInt();
            int length = in.readInt();
            MessageBox box = messageBoxes.get(channel);
            if (box == null) {
                throw new TransportException("control message on unknown channel " + channel + " from " + describe.apply(peer));
            }
            if (length < 0 || length > MAX_MESSAGE_BYTES) {
                throw new TransportException("control message of " + length + " bytes from " + describe.apply(peer)
                        + " is outside [0, " + MAX_MESSAGE_BYTES + "]");
            }
            byte[] message = new byte[length];
            in.readFully(message);
            box.arrive(message);
        }

        private void fail(String reason) {
            failWith(new TransportException("lost " + describe.apply(peer) + " (seen from " + describe.apply(rank) + "): "
                    + reason));
        }

        private void failWith(TransportException e) {
            if (closing) {
                return;
            }
            failure = e;
            mailboxes.values().forEach(m -> m.fail(e));
            messageBoxes.values().forEach(m -> m.fail(e));
            Outgoing o;
            while ((o = queue.poll()) != null) {
                o.handle().fail(e);
            }
        }

        void close() {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing anyway
            }
            if (writer != null) {
                writer.interrupt();
            }
        }
    }
}
