package io.pipefill.controlplane.kubernetes;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretKeySelector;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What the kubelet gives a container: its environment, the files of its Secret volumes, its expanded arguments. */
final class Kubelet {
    private static final Pattern DEPENDENT_VARIABLE = Pattern.compile("\\$\\((\\w+)\\)");

    private Kubelet() {
    }

    /**
     * Literal values, keys of Secrets ({@code secrets} finds one by name) and the downward-API fields of {@code pod}
     * (null for a container whose environment must not need them).
     */
    static Map<String, String> environment(Container container, Function<String, Secret> secrets, Pod pod) {
        Map<String, String> env = new LinkedHashMap<>();
        for (EnvVar var : container.getEnv()) {
            if (var.getValueFrom() == null) {
                env.put(var.getName(), var.getValue());
            } else if (var.getValueFrom().getSecretKeyRef() != null) {
                SecretKeySelector ref = var.getValueFrom().getSecretKeyRef();
                String value = decodedData(secrets.apply(ref.getName())).get(ref.getKey());
                assertThat(value).as("%s: key %s of Secret %s", var.getName(), ref.getKey(), ref.getName()).isNotNull();
                env.put(var.getName(), value);
            } else {
                String path = var.getValueFrom().getFieldRef().getFieldPath();
                assertThat(pod).as("%s needs the pod's %s", var.getName(), path).isNotNull();
                env.put(var.getName(), switch (path) {
                    case "metadata.name" -> pod.getMetadata().getName();
                    case "metadata.namespace" -> pod.getMetadata().getNamespace();
                    case "status.podIP" -> pod.getStatus().getPodIP();
                    case "spec.nodeName" -> pod.getSpec().getNodeName();
                    default -> throw new AssertionError(var.getName() + ": unexpected fieldPath " + path);
                });
            }
        }
        return env;
    }

    /** The files a container sees from Secret volumes, by absolute path, as the kubelet mounts them. */
    static Map<String, String> mountedSecretFiles(PodSpec pod, Container container, Function<String, Secret> secrets) {
        Map<String, String> files = new LinkedHashMap<>();
        for (var mount : container.getVolumeMounts()) {
            var volume = pod.getVolumes().stream().filter(v -> v.getName().equals(mount.getName()))
                    .findFirst().orElseThrow(() -> new AssertionError("no volume " + mount.getName()));
            if (volume.getSecret() == null) {
                continue;
            }
            Map<String, String> data = decodedData(secrets.apply(volume.getSecret().getSecretName()));
            Map<String, String> byPath = new LinkedHashMap<>();
            if (volume.getSecret().getItems() == null || volume.getSecret().getItems().isEmpty()) {
                byPath.putAll(data);
            } else {
                volume.getSecret().getItems().forEach(i -> byPath.put(i.getPath(), data.get(i.getKey())));
            }
            if (mount.getSubPath() != null && !mount.getSubPath().isEmpty()) {
                files.put(mount.getMountPath(), byPath.get(mount.getSubPath()));
            } else {
                byPath.forEach((path, value) -> files.put(mount.getMountPath() + "/" + path, value));
            }
        }
        return files;
    }

    static Map<String, String> decodedData(Secret secret) {
        assertThat(secret).as("a Secret the pod refers to").isNotNull();
        Map<String, String> decoded = new LinkedHashMap<>();
        secret.getData().forEach((k, v) -> decoded.put(k, new String(Base64.getDecoder().decode(v), UTF_8)));
        return decoded;
    }

    /** The container's arguments after Kubernetes' {@code $(VAR)} expansion from its environment. */
    static List<String> expandedArgs(Container container, Map<String, String> env) {
        List<String> args = new ArrayList<>();
        for (String arg : container.getArgs()) {
            Matcher m = DEPENDENT_VARIABLE.matcher(arg);
            StringBuilder expanded = new StringBuilder();
            while (m.find()) {
                assertThat(env).as("$(%s) in the arguments of %s", m.group(1), container.getName()).containsKey(m.group(1));
                m.appendReplacement(expanded, Matcher.quoteReplacement(env.get(m.group(1))));
            }
            args.add(m.appendTail(expanded).toString());
        }
        return args;
    }
}
