def test_the_fixtures_are_available_through_the_entry_point(pytester):
    pytester.makepyfile(
        """
        import pytest
        from datetime import UTC, datetime
        from avgkit import Kit, Inventory
        from avgkit.testing import ManualClock

        def test_clock_default(avgkit_clock):
            assert avgkit_clock.now() == datetime(2024, 1, 1, 12, tzinfo=UTC)

        @pytest.mark.avgkit_now("2025-06-01T10:00Z")
        def test_clock_marker(avgkit_clock):
            assert avgkit_clock.now() == datetime(2025, 6, 1, 10, tzinfo=UTC)

        def test_kit(avgkit_kit, avgkit_inventory, avgkit_clock):
            assert isinstance(avgkit_kit, Kit)
            assert isinstance(avgkit_inventory, Inventory)
            assert avgkit_kit.clock is avgkit_clock
            avgkit_kit.audit.record("test.done")

        def test_subjects(avgkit_subjects):
            assert avgkit_subjects() != avgkit_subjects()
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


def test_a_naive_marker_fails_with_a_clear_message(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.avgkit_now("2025-06-01T10:00")
        def test_clock(avgkit_clock):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*no time zone*"])


def test_a_corrupted_audit_chain_fails_at_teardown(pytester):
    pytester.makepyfile(
        """
        import attrs

        def test_corrupt(avgkit_kit):
            avgkit_kit.audit.record("test.one")
            store = avgkit_kit.stores.audit
            store._entries[0] = attrs.evolve(store._entries[0], action="test.forged")
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*IntegrityError*entry 1*"])
