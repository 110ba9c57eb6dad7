package io.pipefill.controlplane.planning;

import io.github.resilience4j.bulkhead.Bulkhead;
import io.github.resilience4j.bulkhead.BulkheadConfig;
import io.github.resilience4j.bulkhead.BulkheadRegistry;
import io.pipefill.controlplane.catalog.ModelRepository;
import io.pipefill.controlplane.catalog.ModelsRoot;
import io.pipefill.controlplane.catalog.RegisteredModel;
import io.pipefill.controlplane.cluster.ClusterRepository;
import io.pipefill.controlplane.common.InvalidFieldsException;
import io.pipefill.controlplane.common.InvalidFieldsException.FieldProblem;
import io.pipefill.model.cost.ModelCatalog;
import io.pipefill.model.cost.ModelSpec;
import io.pipefill.model.cost.ModelSpecJson;
import io.pipefill.model.hw.Cluster;
import io.pipefill.model.hw.GpuCatalog;
import io.pipefill.model.plan.Objective;
import io.pipefill.model.plan.PlanJson;
import io.pipefill.model.plan.PlanReport;
import io.pipefill.model.plan.PlanRequest;
import io.pipefill.model.plan.Planner;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.springframework.stereotype.Service;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * Runs the planner for a REST request, like {@code pipefill plan --json}: resolves the model (registered,
 * preset or inline config.json) and the cluster (described, or the registered nodes), then returns
 * {@link PlanJson}'s report plus where the cluster came from. Blocking (reads the database and config files).
 */
@Service
public class PlanService {
    /** The CLI's option names in the planner's messages, and the request fields they are here (longest first). */
    private static final String[][] FIELD_NAMES = {
            {"--gpus-per-node", "cluster.gpusPerNode"}, {"--prompt-tokens", "promptTokens"},
            {"--layer-partition", "layerPartition"}, {"--nodes", "cluster.nodes"}, {"--smooth", "smooth"},
            {"--chunk", "chunk"}, {"--model", "model"}, {"--pp", "pp"}, {"--tp", "tp"}};

    private final ModelRepository models;
    private final ClusterRepository cluster;
    private final JsonMapper mapper;
    private final Bulkhead planning;
    private final ModelsRoot modelsRoot;

    public PlanService(ModelRepository models, ClusterRepository cluster, JsonMapper mapper, BulkheadRegistry bulkheads,
                       ModelsRoot modelsRoot) {
        this.models = models;
        this.modelsRoot = modelsRoot;
        this.cluster = cluster;
        this.mapper = mapper;
        // a plan is CPU-bound for up to seconds: a few at a time, the rest answered 429
        this.planning = bulkheads.bulkhead("planning", BulkheadConfig.custom()
                .maxConcurrentCalls(PLANS_AT_ONCE).maxWaitDuration(Duration.ZERO).build());
    }

    /** Plans computed at the same time; more get 429. */
    static final int PLANS_AT_ONCE = 2;

    public ObjectNode plan(PlanBody body) {
        check(body);
        return planning.executeSupplier(() -> planChecked(body));
    }

    private ObjectNode planChecked(PlanBody body) {
        ModelSpec spec = model(body);
        List<String> notes = new ArrayList<>();
        Cluster c;
        String source;
        if (body.cluster() != null) {
            c = described(body.cluster());
            source = "described";
        } else {
            RegisteredCluster.Derived d = RegisteredCluster.of(cluster.nodes());
            c = d.cluster();
            notes.addAll(d.notes());
            source = "registered";
        }
        PlanReport report;
        try {
            Objective objective = body.objective() == null ? Objective.TTFT : Objective.parse(body.objective());
            List<FieldProblem> tooLarge = PlanLimits.problems(c, objective, source);
            if (!tooLarge.isEmpty()) {
                throw new InvalidFieldsException(tooLarge);
            }
            PlanRequest req = new PlanRequest(spec, c, body.promptTokens(), body.pp(), body.tp(), body.layerPartition(),
                    body.chunk(), Boolean.TRUE.equals(body.dynamicChunking()), body.smooth(),
                    Boolean.TRUE.equals(body.allowInterNodeTp()), objective, "planned".equals(body.chunking()));
            report = new Planner().plan(req);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(fieldNames(e.getMessage()), e);
        }
        // PlanJson writes with the planner's Jackson 2; the service speaks Jackson 3: cross over as text
        ObjectNode tree = (ObjectNode) mapper.readTree(PlanJson.write(report, Boolean.TRUE.equals(body.timeline())));
        tree.put("cluster_source", source);
        ArrayNode n = (ArrayNode) tree.get("notes");
        for (int i = notes.size() - 1; i >= 0; i--) {
            n.insert(0, notes.get(i));
        }
        return tree;
    }

    private static void check(PlanBody b) {
        List<FieldProblem> p = new ArrayList<>();
        boolean hasModel = b.model() != null && !b.model().isBlank();
        if (hasModel == (b.config() != null)) {
            p.add(new FieldProblem("model", "give exactly one of 'model' (a registered model's id or name, or a preset: "
                    + String.join(", ", ModelCatalog.PRESETS) + ") and 'config' (a config.json object)"));
        }
        if (b.layerPartition() != null && (b.pp() == null || b.tp() == null)) {
            p.add(new FieldProblem("layerPartition", "needs both pp and tp"));
        }
        p.addAll(PlanLimits.problems(b));
        if (!p.isEmpty()) {
            throw new InvalidFieldsException(p);
        }
    }

    private ModelSpec model(PlanBody b) {
        if (b.config() != null) {
            return ModelSpecJson.parse(mapper.writeValueAsString(b.config()), "inline", "field 'config'");
        }
        String m = b.model().trim();
        Optional<RegisteredModel> registered = models.byIdOrName(m);
        if (registered.isPresent()) {
            RegisteredModel r = registered.get();
            try {
                // the planner's reader, on text read under the models root's rules (bounded, regular file, no links out)
                return ModelSpecJson.parse(modelsRoot.configText(r.location()), r.name(), r.location() + "/config.json");
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("registered model " + r.name() + ": " + e.getMessage(), e);
            }
        }
        if (ModelCatalog.PRESETS.contains(m.toLowerCase(Locale.ROOT))) {
            return ModelCatalog.preset(m);
        }
        // never a path: the REST caller must not make the service read arbitrary files
        throw new IllegalArgumentException("model: '" + m + "' is neither a registered model (id or name) nor a preset ("
                + String.join(", ", ModelCatalog.PRESETS) + "); or send the config.json itself as 'config'");
    }

    private static Cluster described(PlanBody.ClusterBody cb) {
        if (!GpuCatalog.names().contains(cb.gpu().trim().toLowerCase(Locale.ROOT))) {
            throw new InvalidFieldsException(List.of(new FieldProblem("cluster.gpu", "unknown GPU '" + cb.gpu()
                    + "'; allowed: " + String.join(", ", GpuCatalog.names()))));
        }
        double nicGbps = cb.nicGbps() == null ? 400 : cb.nicGbps();
        double latencyUs = cb.nicLatencyUs() == null ? 25 : cb.nicLatencyUs();
        return Cluster.of(GpuCatalog.get(cb.gpu()), cb.nodes() == null ? 1 : cb.nodes(),
                cb.gpusPerNode() == null ? 8 : cb.gpusPerNode()).withNic(nicGbps * 1e9 / 8, latencyUs / 1000);
    }

    static String fieldNames(String message) {
        String s = message == null ? "invalid plan request" : message;
        for (String[] f : FIELD_NAMES) {
            s = s.replace(f[0], f[1]);
        }
        return s;
    }
}
