/* vmm: the main process. Parses the command line and runs the VM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "log.h"
#include "policy_cmd.h"
#include "vm.h"

static void set_log_level_from_env(void)
{
	const char *v = getenv("VMM_LOG");

	if (!v)
		return;
	if (strcmp(v, "debug") == 0)
		log_set_level(LOG_DEBUG);
	else if (strcmp(v, "warn") == 0)
		log_set_level(LOG_WARN);
	else if (strcmp(v, "error") == 0)
		log_set_level(LOG_ERR);
}

int main(int argc, char **argv)
{
	struct vm_config cfg;
	enum cli_command cmd;
	char err[CONFIG_ERR_MAX];
	int code;

	log_set_name("vmm");
	set_log_level_from_env();
	config_init(&cfg);
	if (cli_parse(argc, argv, &cmd, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		config_free(&cfg);
		return VMM_EXIT_USAGE;
	}
	switch (cmd) {
	case CLI_HELP:
		cli_usage(stdout);
		code = VMM_EXIT_OK;
		break;
	case CLI_VERSION:
		printf("vmm %s\n", VMM_VERSION);
		code = VMM_EXIT_OK;
		break;
	case CLI_POLICY:
		code = policy_cmd_main(argc - 2, argv + 2);
		break;
	case CLI_RUN:
	default:
		log_set_name(cfg.name ? cfg.name : "vmm");
		code = vm_run(&cfg);
		break;
	}
	config_free(&cfg);
	return code;
}
