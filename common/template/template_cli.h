/* `haproxy-template-ic render`: renders one template file with a JSON context (see docs/templates.md). */
#ifndef HTIC_TEMPLATE_CLI_H
#define HTIC_TEMPLATE_CLI_H

/* argv[0] is "render". Returns the process exit status: 0 ok, 2 on any error (message on stderr). */
int template_cli_main(int argc, char **argv);

#endif
