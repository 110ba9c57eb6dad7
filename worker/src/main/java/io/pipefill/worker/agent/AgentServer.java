package io.pipefill.worker.agent;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The agent API's HTTP server, on Netty: request headers and bodies are read on the event loop without holding
 * a thread (a connection that sends nothing, or half a request, costs a socket, not a handler thread); a
 * connection idle for {@link #IDLE_TIMEOUT_MS} is closed, and so is one whose request is not complete within
 * {@link #REQUEST_DEADLINE_MS} of its first byte (a slow drip); at most {@link #MAX_CONNECTIONS} are open at
 * once; complete requests are answered on {@link #HANDLER_THREADS} threads of their own. Before this, the JDK's
 * HttpServer with four threads was stopped by four half-open connections and kept silent ones open for good.
 */
final class AgentServer implements AutoCloseable {
    /** A connection with no traffic either way for this long is closed (between requests, or a silent one). */
    static final long IDLE_TIMEOUT_MS = 10_000;
    /** A request must be complete (headers and body) this long after its first byte. */
    static final long REQUEST_DEADLINE_MS = 30_000;
    /** Connections past this many are closed as soon as they are accepted. */
    static final int MAX_CONNECTIONS = 512;
    static final int HANDLER_THREADS = 16;
    private static final int MAX_INITIAL_LINE = 4096;
    private static final int MAX_HEADER_BYTES = 16 << 10;

    private final EventLoopGroup acceptor;
    private final EventLoopGroup io;
    private final ExecutorService handlers;
    /** The timeouts and the connection cap; tests shorten them. */
    record Limits(long idleTimeoutMs, long requestDeadlineMs, int maxConnections) {
        static final Limits DEFAULT = new Limits(IDLE_TIMEOUT_MS, REQUEST_DEADLINE_MS, MAX_CONNECTIONS);
    }

    private final ServerBootstrap bootstrap;
    private final String host;
    private final int port;
    private final AtomicInteger open = new AtomicInteger();
    private volatile Channel channel;

    AgentServer(String host, int port, AgentHttp api) {
        this(host, port, api, Limits.DEFAULT);
    }

    AgentServer(String host, int port, AgentHttp api, Limits limits) {
        this.host = host;
        this.port = port;
        acceptor = new MultiThreadIoEventLoopGroup(1, daemon("agent-accept"), NioIoHandler.newFactory());
        io = new MultiThreadIoEventLoopGroup(2, daemon("agent-io"), NioIoHandler.newFactory());
        // the API's calls take the agent's lock and may wait on it: never on an event loop. A full queue answers 503.
        handlers = new ThreadPoolExecutor(HANDLER_THREADS, HANDLER_THREADS, 30, TimeUnit.SECONDS,
                new ArrayBlockingQueue<>(256), daemon("agent-http"));
        bootstrap = new ServerBootstrap().group(acceptor, io).channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, 128)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline()
                                .addLast(new IdleStateHandler(0, 0, limits.idleTimeoutMs(), TimeUnit.MILLISECONDS))
                                .addLast(new ConnectionLimit(open, limits.maxConnections()))
                                .addLast(new RequestDeadline(limits.requestDeadlineMs()))
                                .addLast(new HttpServerCodec(MAX_INITIAL_LINE, MAX_HEADER_BYTES, 64 << 10))
                                .addLast(new HttpObjectAggregator(AgentHttp.MAX_BODY))
                                .addLast(new Requests(api, handlers));
                    }
                });
    }

    /** Binds the port and starts answering. */
    void start() throws IOException {
        try {
            channel = bootstrap.bind(host, port).sync().channel();
        } catch (Exception e) {
            close();
            throw new IOException("could not start the agent API on " + host + ":" + port + ": " + e.getMessage(), e);
        }
    }

    InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    @Override
    public void close() {
        Channel c = channel;
        if (c != null) {
            c.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
        }
        // the connections' event loops first (closing every connection), then the handler threads they hand requests to
        acceptor.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(3, TimeUnit.SECONDS);
        io.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(3, TimeUnit.SECONDS);
        handlers.shutdownNow();
    }

    private static ThreadFactory daemon(String name) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, name + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    /** Closes a connection past {@link #MAX_CONNECTIONS}, and any that turns idle. */
    private static final class ConnectionLimit extends ChannelDuplexHandler {
        private final AtomicInteger open;
        private final int max;
        private boolean counted;

        ConnectionLimit(AtomicInteger open, int max) {
            this.open = open;
            this.max = max;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) throws Exception {
            counted = true;
            if (open.incrementAndGet() > max) {
                ctx.close();
                return;
            }
            super.channelActive(ctx);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            if (counted) {
                counted = false;
                open.decrementAndGet();
            }
            super.channelInactive(ctx);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt instanceof IdleStateEvent) {
                ctx.close();
                return;
            }
            super.userEventTriggered(ctx, evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close(); // a reset or broken connection: nothing to answer
        }
    }

    /** Closes the connection when a request started (its first byte) is not complete in time. */
    private static final class RequestDeadline extends ChannelInboundHandlerAdapter {
        private final long ms;
        private ScheduledFuture<?> deadline;

        RequestDeadline(long ms) {
            this.ms = ms;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
            if (deadline == null) {
                deadline = ctx.executor().schedule(() -> {
                    ctx.close();
                }, ms, TimeUnit.MILLISECONDS);
            }
            super.channelRead(ctx, msg);
        }

        /** The request is complete: the next one gets its own deadline. Runs on the connection's event loop. */
        void complete() {
            if (deadline != null) {
                deadline.cancel(false);
                deadline = null;
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            complete();
            super.channelInactive(ctx);
        }
    }

    /** Answers complete requests through the API, on the handler threads. */
    private static final class Requests extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final AgentHttp api;
        private final ExecutorService threads;

        Requests(AgentHttp api, ExecutorService threads) {
            this.api = api;
            this.threads = threads;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            RequestDeadline d = ctx.pipeline().get(RequestDeadline.class);
            if (d != null) {
                d.complete(); // on the event loop, as the deadline's own calls
            }
            boolean keepAlive = HttpUtil.isKeepAlive(req);
            if (req.decoderResult().isFailure()) {
                answer(ctx, AgentHttp.problem(400, "Bad Request", "the request could not be read as HTTP/1.1: "
                        + req.decoderResult().cause().getMessage()), false);
                return;
            }
            String method = req.method().name();
            String path = new QueryStringDecoder(req.uri()).rawPath();
            String authorization = req.headers().get(HttpHeaderNames.AUTHORIZATION);
            byte[] body = ByteBufUtil.getBytes(req.content()); // copied: the request's buffer is released on return
            try {
                threads.execute(() -> answer(ctx, api.handle(method, path, authorization, body), keepAlive));
            } catch (RejectedExecutionException e) {
                answer(ctx, AgentHttp.problem(503, "Service Unavailable", "the agent is answering "
                        + HANDLER_THREADS + " requests with more queued; try again"), false);
            }
        }

        private static void answer(ChannelHandlerContext ctx, AgentHttp.Answer a, boolean keepAlive) {
            FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(a.status()),
                    Unpooled.wrappedBuffer(a.body()));
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, a.contentType());
            res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, a.body().length);
            if (a.challenge()) {
                res.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"pipefill-agent\"");
            }
            HttpUtil.setKeepAlive(res, keepAlive);
            var written = ctx.writeAndFlush(res);
            if (!keepAlive) {
                written.addListener(ChannelFutureListener.CLOSE);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
