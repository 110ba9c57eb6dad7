package io.pipefill.controlplane.kubernetes;

import io.fabric8.kubernetes.api.model.APIGroupListBuilder;
import io.fabric8.kubernetes.api.model.APIResourceList;
import io.fabric8.kubernetes.api.model.APIResourceListBuilder;
import io.fabric8.kubernetes.api.model.APIVersionsBuilder;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.http.MockResponse;
import java.util.Map;

/**
 * fabric8's in-memory API server (CRUD mode) plus the discovery documents ({@code /api}, {@code /apis},
 * {@code /api/v1}, …) that Go clients read before they touch a resource: Helm's {@code lookup} maps a kind to
 * its resource through them, and fabric8's CRUD dispatcher does not serve them. Only the kinds the pipefill chart
 * uses are listed.
 */
final class DiscoveringCrudDispatcher extends KubernetesCrudDispatcher {
    private static final String RBAC = "rbac.authorization.k8s.io/v1";

    private final Map<String, Object> documents = Map.of(
            "/api", new APIVersionsBuilder().withVersions("v1").build(),
            "/apis", new APIGroupListBuilder()
                    .addNewGroup().withName("apps")
                    .addNewVersion().withGroupVersion("apps/v1").withVersion("v1").endVersion()
                    .withNewPreferredVersion().withGroupVersion("apps/v1").withVersion("v1").endPreferredVersion()
                    .endGroup()
                    .addNewGroup().withName("rbac.authorization.k8s.io")
                    .addNewVersion().withGroupVersion(RBAC).withVersion("v1").endVersion()
                    .withNewPreferredVersion().withGroupVersion(RBAC).withVersion("v1").endPreferredVersion()
                    .endGroup()
                    .build(),
            "/api/v1", resources("v1", "pods/Pod", "services/Service", "secrets/Secret",
                    "serviceaccounts/ServiceAccount", "persistentvolumeclaims/PersistentVolumeClaim"),
            "/apis/apps/v1", resources("apps/v1", "deployments/Deployment", "statefulsets/StatefulSet"),
            "/apis/" + RBAC, resources(RBAC, "roles/Role", "rolebindings/RoleBinding"));

    @Override
    public MockResponse handleGet(String path) {
        int query = path.indexOf('?');
        Object document = documents.get(query < 0 ? path : path.substring(0, query));
        if (document == null) {
            return super.handleGet(path);
        }
        return new MockResponse().setResponseCode(200).setHeader("Content-Type", "application/json")
                .setBody(Serialization.asJson(document));
    }

    /** @param resources "plural/Kind" of namespaced resources */
    private static APIResourceList resources(String groupVersion, String... resources) {
        APIResourceListBuilder list = new APIResourceListBuilder().withGroupVersion(groupVersion);
        for (String resource : resources) {
            String[] pluralAndKind = resource.split("/");
            list.addNewResource().withName(pluralAndKind[0]).withKind(pluralAndKind[1]).withNamespaced(true)
                    .withSingularName("").withVerbs("create", "delete", "get", "list", "patch", "update", "watch")
                    .endResource();
        }
        return list.build();
    }
}
