package io.pipefill.worker.comm;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.Socket;

/** A hand-made connection to a data port, speaking the handshake byte by byte (as a peer or as an impostor would). */
final class RawPeer {
    private RawPeer() {
    }

    /** Connects to {@code port} as {@code rank} with {@code secret} (the acceptor being {@code acceptorRank}). */
    static Socket handshake(int port, int rank, int acceptorRank, RunSecret secret) throws IOException {
        Socket s = new Socket("127.0.0.1", port);
        DataInputStream in = new DataInputStream(s.getInputStream());
        DataOutputStream out = new DataOutputStream(s.getOutputStream());
        if (in.readInt() != 0x50504831) {
            throw new IOException("no handshake from the port");
        }
        byte[] theirs = in.readNBytes(RunSecret.BYTES);
        byte[] mine = RunSecret.challenge();
        out.writeInt(0x50504831);
        out.writeInt(rank);
        out.write(mine);
        out.write(secret.proof("pipefill data port v1: connecting rank", acceptorRank, rank, theirs, mine));
        out.flush();
        return s;
    }
}
