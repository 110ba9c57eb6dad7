package io.pipefill.cli.architecture;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.EvaluationResult;
import org.junit.jupiter.api.Test;

/**
 * The seams of docs/ARCHITECTURE.md, checked on the production classes of every module (this module's class
 * path holds them all): shared-model is the only contract between the control plane and the worker, neither
 * imports the other, and only this module sees both. The control plane's Maven build refuses a worker
 * dependency as well (the enforcer rule in control-plane/pom.xml); this catches an import through any other
 * route.
 */
class ArchitectureTest {
    /** Production classes only: no test classes, no test jars. */
    private static final ImportOption PRODUCTION = location -> ImportOption.Predefined.DO_NOT_INCLUDE_TESTS.includes(location)
            && !location.contains("-tests.jar");

    private static final JavaClasses ALL = new ClassFileImporter().withImportOption(PRODUCTION).importPackages("io.pipefill");

    static final ArchRule CONTROL_PLANE_WITHOUT_WORKER = noClasses().that().resideInAPackage("io.pipefill.controlplane..")
            .should().dependOnClassesThat().resideInAnyPackage("io.pipefill.worker..", "io.pipefill.cli..", "org.bytedeco..")
            .because("the control plane meets the worker only through shared-model, and never loads native compute libraries");

    static final ArchRule WORKER_WITHOUT_CONTROL_PLANE = noClasses().that().resideInAPackage("io.pipefill.worker..")
            .should().dependOnClassesThat().resideInAnyPackage("io.pipefill.controlplane..", "io.pipefill.cli..",
                    "org.springframework..")
            .because("the worker meets the control plane only through shared-model and HTTP");

    static final ArchRule SHARED_MODEL_STANDS_ALONE = noClasses().that().resideInAPackage("io.pipefill.model..")
            .should().dependOnClassesThat().resideInAnyPackage("io.pipefill.worker..", "io.pipefill.controlplane..",
                    "io.pipefill.cli..", "io.pipefill.tokenizer..", "org.springframework..", "org.bytedeco..")
            .because("shared-model is the contract both sides compile against: plain Java and Jackson annotations");

    static final ArchRule TOKENIZER_STANDS_ALONE = noClasses().that().resideInAPackage("io.pipefill.tokenizer..")
            .should().dependOnClassesThat().resideInAnyPackage("io.pipefill.worker..", "io.pipefill.controlplane..",
                    "io.pipefill.cli..", "io.pipefill.model..")
            .because("tokenization is a library both sides use");

    /** Each module's feature packages depend on each other without cycles, so each can be read (and moved) alone. */
    @Test
    void packagesAreFreeOfCycles() {
        for (String module : new String[] {"io.pipefill.model.(*)..", "io.pipefill.worker.(*)..", "io.pipefill.controlplane.(*)..",
                "io.pipefill.cli.(*).."}) {
            slices().matching(module).should().beFreeOfCycles().check(ALL);
        }
    }

    /**
     * The worker's layers, bottom up: what a package may import is below it. model (checkpoints, weight layout,
     * TP slices) → engine (the Backend/Stage seam, the decoder layer) → comm (transports, links, device ranks, groups) → the
     * backends cpu and cuda → backends (choosing one) → pipeline (the stage loop) → launch and agent (who drives it)
     * → daemon (the process's entry point).
     */
    @Test
    void theWorkersPackagesAreLayered() {
        layeredArchitecture().consideringOnlyDependenciesInLayers()
                .layer("model").definedBy("io.pipefill.worker.model..")
                .layer("engine").definedBy("io.pipefill.worker.engine..")
                .layer("comm").definedBy("io.pipefill.worker.comm..")
                .layer("compute").definedBy("io.pipefill.worker.cpu..", "io.pipefill.worker.cuda..")
                .layer("backends").definedBy("io.pipefill.worker.backends..")
                .layer("pipeline").definedBy("io.pipefill.worker.pipeline..")
                .layer("drivers").definedBy("io.pipefill.worker.launch..", "io.pipefill.worker.agent..")
                .layer("daemon").definedBy("io.pipefill.worker.daemon..")
                .whereLayer("daemon").mayNotBeAccessedByAnyLayer()
                .whereLayer("drivers").mayOnlyBeAccessedByLayers("daemon")
                .whereLayer("pipeline").mayOnlyBeAccessedByLayers("drivers", "daemon")
                .whereLayer("backends").mayOnlyBeAccessedByLayers("pipeline", "drivers", "daemon")
                .whereLayer("compute").mayOnlyBeAccessedByLayers("backends", "pipeline", "drivers", "daemon")
                .whereLayer("comm").mayOnlyBeAccessedByLayers("compute", "backends", "pipeline", "drivers", "daemon")
                .whereLayer("engine").mayOnlyBeAccessedByLayers("comm", "compute", "backends", "pipeline", "drivers",
                        "daemon")
                .check(ALL);
    }

    @Test
    void theImportCoversEveryModule() {
        for (String pkg : new String[] {"io.pipefill.model", "io.pipefill.tokenizer", "io.pipefill.worker", "io.pipefill.controlplane",
                "io.pipefill.cli"}) {
            assertThat(ALL.stream().anyMatch(c -> c.getPackageName().startsWith(pkg))).as("classes of %s imported", pkg).isTrue();
        }
        assertThat(ALL.stream().noneMatch(c -> c.getPackageName().contains("archfixture"))).as("no test classes").isTrue();
    }

    @Test
    void theControlPlaneDoesNotImportTheWorker() {
        CONTROL_PLANE_WITHOUT_WORKER.check(ALL);
    }

    @Test
    void theWorkerDoesNotImportTheControlPlane() {
        WORKER_WITHOUT_CONTROL_PLANE.check(ALL);
    }

    @Test
    void sharedModelAndTheTokenizerImportNeitherSide() {
        SHARED_MODEL_STANDS_ALONE.check(ALL);
        TOKENIZER_STANDS_ALONE.check(ALL);
    }

    /** The rule itself: a control-plane class that imports the worker is caught, naming both classes. */
    @Test
    void theRuleCatchesAForbiddenImport() throws Exception {
        JavaClasses breach = new ClassFileImporter().importClasses(Class.forName("io.pipefill.controlplane.archfixture.ImportsTheWorker"));
        EvaluationResult result = CONTROL_PLANE_WITHOUT_WORKER.evaluate(breach);
        assertThat(result.hasViolation()).isTrue();
        assertThat(result.getFailureReport().toString()).contains("ImportsTheWorker").contains("io.pipefill.worker.backends.Backends");
    }
}
