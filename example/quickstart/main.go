// Command quickstart is the README's quick start (a test keeps the two identical).
package main

import (
	"errors"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/sessionshield/sessionshield/ginsession"
)

func main() {
	// Any redis.UniversalClient: NewClient, NewFailoverClient (Sentinel), NewClusterClient.
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	store, err := ginsession.NewStore(rdb, ginsession.Config{
		Secrets:    [][]byte{[]byte(os.Getenv("SESSION_SECRET"))}, // 32+ random bytes, newest first
		CookieName: "__Host-id",                                   // checked against the settings now, not at the first request
	})
	if err != nil {
		log.Fatal(err) // says what is wrong: no secret, a weak one, SameSite=None, ...
	}

	r := gin.New()
	_ = r.SetTrustedProxies(nil) // no proxy in front: believe no X-Forwarded-For (list yours here)
	// Not gin.Recovery(): it can write the request's Cookie header to the log.
	r.Use(gin.Logger(), gin.CustomRecoveryWithWriter(nil, func(c *gin.Context, err any) {
		log.Printf("panic: %v", err)
		c.AbortWithStatus(http.StatusInternalServerError)
	}))
	r.Use(sessions.Sessions("__Host-id", store)) // gin-contrib/sessions, unchanged

	r.POST("/login", func(c *gin.Context) {
		checked := time.Now()             // before the password hash is read
		userID, ok := checkCredentials(c) // your own password check
		if !ok {
			c.JSON(http.StatusUnauthorized, gin.H{"error": "invalid credentials"})
			return
		}
		// A new session ID (the pre-login one is destroyed), bound to this browser;
		// refused (ErrStaleLogin) if RevokeUser ran since the check: a password change.
		switch err := ginsession.Login(c, userID, ginsession.CheckedAt(checked)); {
		case errors.Is(err, ginsession.ErrStaleLogin):
			c.JSON(http.StatusUnauthorized, gin.H{"error": "log in again"})
			return
		case err != nil:
			log.Printf("login: %v", err) // Redis down, or no sessions.Sessions before this route
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "try again later"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"message": "Logged in"})
	})

	// 401 unless logged in from the same browser; 503 if Redis is down.
	api := r.Group("/api", ginsession.RequireAuth())
	api.GET("/profile", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"userId": ginsession.UserID(c)})
	})
	api.POST("/logout", func(c *gin.Context) { // 503 if Redis is down: the user can retry
		if err := ginsession.Logout(c); err != nil {
			c.AbortWithStatus(http.StatusServiceUnavailable)
		}
	})

	log.Fatal(r.Run(":8080")) // serve it behind TLS: the cookie is Secure
}

// checkCredentials stands for your credential check (example/app has one with argon2id).
func checkCredentials(c *gin.Context) (userID string, ok bool) {
	return "", false
}
