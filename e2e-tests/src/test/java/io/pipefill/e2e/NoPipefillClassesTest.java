package io.pipefill.e2e;

import static com.tngtech.archunit.base.DescribedPredicate.not;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/**
 * The end-to-end tests meet the system only as its users do: through the processes the launcher starts, the REST
 * API and the database's records, never by calling pipefill's classes in the test JVM.
 */
class NoPipefillClassesTest {
    @Test
    void theTestsUseNoPipefillClass() {
        JavaClasses tests = new ClassFileImporter().withImportOption(ImportOption.Predefined.ONLY_INCLUDE_TESTS)
                .importPackages("io.pipefill.e2e");
        noClasses().that().resideInAPackage("io.pipefill.e2e..")
                .should().dependOnClassesThat(resideInAPackage("io.pipefill..").and(not(resideInAPackage("io.pipefill.e2e.."))))
                .because("the system is driven from outside: the launcher's processes, its API, its records")
                .check(tests);
    }
}
