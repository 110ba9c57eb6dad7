package io.pipefill.worker.launch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** Newline-delimited JSON messages between the coordinator and a worker over one TCP connection. */
final class ControlChannel implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();
    private final Socket socket;
    private final BufferedReader in;
    private final BufferedWriter out;

    ControlChannel(Socket socket) throws IOException {
        this.socket = socket;
        socket.setTcpNoDelay(true);
        this.in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
        this.out = new BufferedWriter(new OutputStreamWriter(socket.getOutputStream(), StandardCharsets.UTF_8));
    }

    synchronized void send(Object message) throws IOException {
        out.write(JSON.writeValueAsString(message));
        out.write('\n');
        out.flush();
    }

    /** A rank's reports (the last one carries the vocabulary's logits) stay far below this; a longer line is not ours. */
    static final int MAX_MESSAGE_CHARS = 64 << 20;

    /** The next message, or null when the peer closed the connection. */
    JsonNode receive() throws IOException {
        return receive(MAX_MESSAGE_CHARS);
    }

    /** The next message of at most {@code maxChars} characters, or null when the peer closed the connection. */
    JsonNode receive(int maxChars) throws IOException {
        StringBuilder line = new StringBuilder();
        int c;
        while ((c = in.read()) != '\n') {
            if (c < 0) {
                return line.length() == 0 ? null : JSON.readTree(line.toString());
            }
            if (line.length() == maxChars) {
                throw new IOException("a control message longer than " + maxChars + " characters");
            }
            line.append((char) c);
        }
        return JSON.readTree(line.toString());
    }

    /** Bounds every later read: a peer silent for longer fails it with a timeout (0: wait for ever). */
    void readTimeout(int millis) throws IOException {
        socket.setSoTimeout(millis);
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }
}
