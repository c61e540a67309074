"""Operations: periodic jobs, the first admin, CLI commands."""
